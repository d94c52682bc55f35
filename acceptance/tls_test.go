package acceptance

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/tlslayer/tlstest"
)

// The edge over TLS (SPEC §11, issue 12): the same streams, frames and limits as plaintext,
// through --tls-listen.

// tlsNode is a node with --tls-listen and the files of its certificate.
type tlsNode struct {
	*node
	tls              string // host:port of the TLS edge
	certFile, keyFis string
}

var tlsAddrField = regexp.MustCompile(`msg="pushwire started".* tls=(\S+)`)

// startTLSNode runs pushwire with a fresh certificate (CN "first") on --tls-listen.
func startTLSNode(t *testing.T, flags ...string) *tlsNode {
	t.Helper()
	certFile, keyFile := writePair(t, t.TempDir(), "first")
	args := append([]string{"--tls-listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile}, flags...)
	n := startNode(t, args...)
	m := tlsAddrField.FindStringSubmatch(n.logText())
	if m == nil {
		t.Fatalf("no tls= address in the started line:\n%s", n.logText())
	}
	return &tlsNode{node: n, tls: m[1], certFile: certFile, keyFis: keyFile}
}

// writePair writes a fresh ECDSA certificate named cn and its key into dir.
func writePair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	pair, err := tlstest.New(cn, false)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err = pair.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// dialTLS opens a TLS connection to the TLS edge with version vers (0 = any).
func (n *tlsNode) dialTLS(vers uint16) *tls.Conn {
	n.t.Helper()
	d := &net.Dialer{Timeout: ioTimeout}
	c, err := tls.DialWithDialer(d, "tcp", n.tls, &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
	if err != nil {
		n.t.Fatalf("TLS dial %s: %v", n.tls, err)
	}
	n.t.Cleanup(func() { c.Close() })
	return c
}

// subscribeTLS is subscribe over a TLS connection of version vers.
func (n *tlsNode) subscribeTLS(vers uint16, target string) *stream {
	n.t.Helper()
	c := n.dialTLS(vers)
	writeAll(n.t, c, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, n.tls))
	s := readStreamHead(n.t, c, "GET "+target)
	if s.resp.StatusCode != 200 || s.key == "" {
		n.t.Fatalf("GET %s over TLS = %d, key %q", target, s.resp.StatusCode, s.key)
	}
	return s
}

var tlsVersions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// TestTLSSubscribeFormats: NDJSON, SSE and multipart streams, a long-poll, /ack and OPTIONS
// over TLS 1.2 and 1.3, through the same engine and codec as plaintext.
func TestTLSSubscribeFormats(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	for _, vers := range tlsVersions {
		nd := n.subscribeTLS(vers, "/sub?topic=tf&format=ndjson&user=u1")
		if p := nd.packet(); !strings.Contains(p, `"state":"registered"`) {
			t.Fatalf("ndjson first packet %s", p)
		}
		sse := n.subscribeTLS(vers, "/sub?topic=tf&format=sse")
		sse.sseEvent() // retry
		sse.sseEvent() // registered
		mp := n.subscribeTLS(vers, "/sub?topic=tf&format=multipart")
		boundary := strings.TrimPrefix(mp.resp.Header.Get("Content-Type"), "multipart/mixed; boundary=")
		mp.part(boundary)

		body := fmt.Sprintf("over tls %x", vers)
		n.mustPub(200, "topic/tf", body)
		if p := nd.packet(); !strings.Contains(p, jsonString(body)) {
			t.Fatalf("ndjson message %s", p)
		}
		if ev := strings.Join(sse.sseEvent(), "\n"); !strings.Contains(ev, "data: "+body) {
			t.Fatalf("sse message %q", ev)
		}
		if p := mp.part(boundary); p.body != body {
			t.Fatalf("multipart message %q", p.body)
		}

		c := n.dialTLS(vers)
		writeAll(t, c, "OPTIONS * HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
		if raw, _ := readUntilQuiet(c, 300*time.Millisecond); statusOf(raw) != 204 {
			t.Fatalf("OPTIONS over TLS: %q", raw)
		}
		writeAll(t, c, "POST /ack?conn="+nd.key+"&id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		if raw, _ := readUntilQuiet(c, 300*time.Millisecond); statusOf(raw) != 200 || !strings.Contains(raw, `"acked"`) {
			t.Fatalf("/ack over TLS: %q", raw)
		}
		poll := n.dialTLS(vers)
		writeAll(t, poll, "GET /sub?topic=tf&format=poll HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(100 * time.Millisecond) // the poll waits for messages after it arrived
		n.mustPub(200, "topic/tf", "polled")
		if raw, _ := readUntilQuiet(poll, 500*time.Millisecond); statusOf(raw) != 200 || !strings.Contains(raw, "polled") {
			t.Fatalf("long-poll over TLS: %q", raw)
		}
	}
	if s := n.stats(); s["connections"] < 6 || s["tls_handshakes"] < 10 {
		t.Fatalf("stats connections %v, tls_handshakes %v", s["connections"], s["tls_handshakes"])
	}
}

// TestTLSCurl: curl over https (HTTP/1.1) holds an NDJSON stream and gets a push.
func TestTLSCurl(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	cmd := exec.Command("curl", "-sSkN", "--http1.1", "--max-time", "20", "https://"+n.tls+"/sub?topic=curl")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"state":"registered"`) {
		t.Fatalf("curl's first line %q (stderr %q)", lines.Text(), stderr.String())
	}
	n.mustPub(200, "topic/curl", "via curl")
	if !lines.Scan() || !strings.Contains(lines.Text(), `"data":"via curl"`) {
		t.Fatalf("curl's second line %q (stderr %q)", lines.Text(), stderr.String())
	}
}

// TestTLSOpenSSL: openssl s_client -tls1_2 and -tls1_3 subscribe; -tls1_1 (allowed on the
// client side with SECLEVEL=0) is refused by the server with a protocol_version alert.
func TestTLSOpenSSL(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		cmd := exec.Command("openssl", "s_client", "-connect", n.tls, v, "-quiet", "-servername", "localhost")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(in, "GET /sub?topic=ossl HTTP/1.1\r\nHost: localhost\r\n\r\n")
		got := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			var all strings.Builder
			for sc.Scan() {
				all.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), `"state":"registered"`) {
					break
				}
			}
			got <- all.String()
		}()
		select {
		case s := <-got:
			if !strings.HasPrefix(s, "HTTP/1.1 200") || !strings.Contains(s, "registered") {
				t.Errorf("s_client %s read %q", v, s)
			}
		case <-time.After(ioTimeout):
			t.Errorf("s_client %s: no registered packet", v)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	cmd := exec.Command("openssl", "s_client", "-connect", n.tls, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "alert protocol version") {
		t.Fatalf("s_client -tls1_1 against the TLS edge:\n%s\nwant the server's protocol_version alert", out)
	}
}

// TestTLSSIGHUPRotation: after SIGHUP new handshakes present the new certificate while a
// held stream keeps receiving; a bad pair at SIGHUP is logged and the pair in use stays.
func TestTLSSIGHUPRotation(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	held := n.subscribeTLS(tls.VersionTLS13, "/sub?topic=rot")
	held.packet()
	cn := func() string {
		c := n.dialTLS(0)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := cn(); got != "first" {
		t.Fatalf("certificate %q before the reload", got)
	}
	second, err := tlstest.New("second", true)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(n.certFile, second.CertPEM, 0o600)
	os.WriteFile(n.keyFis, second.KeyPEM, 0o600)
	n.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the new certificate", func() bool { return cn() == "second" })
	n.mustPub(200, "topic/rot", "after reload")
	if p := held.packet(); !strings.Contains(p, "after reload") {
		t.Fatalf("held stream after the reload: %s", p)
	}

	os.WriteFile(n.certFile, []byte("not a certificate"), 0o600)
	n.signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "the failed reload's log line", func() bool {
		return strings.Contains(n.logText(), "not reloaded") && strings.Contains(n.logText(), n.certFile)
	})
	if got := cn(); got != "second" {
		t.Fatalf("certificate %q after a bad reload; want the old pair to stay", got)
	}
}

// TestTLSBadCertAtStart: an unreadable or bad certificate or key stops the start with an
// error naming the file.
func TestTLSBadCertAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "x")
	bad := dir + "/bad.pem"
	os.WriteFile(bad, []byte("-----BEGIN NOTHING-----\n"), 0o600)
	for _, c := range []struct{ cert, key, names string }{
		{dir + "/missing.pem", keyFile, "missing.pem"},
		{bad, keyFile, bad},
		{certFile, bad, bad},
		{certFile, certFile, certFile},
	} {
		cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
			"--tls-listen", "127.0.0.1:0", "--tls-cert", c.cert, "--tls-key", c.key)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("cert %s key %s: %v; want exit code 2", c.cert, c.key, err)
		}
		if !strings.Contains(string(out), c.names) {
			t.Errorf("cert %s key %s: the error does not name %s:\n%s", c.cert, c.key, c.names, out)
		}
	}
}

// TestTLSStalledHandshakes: connections that send nothing, half a ClientHello, or a
// ClientHello and then nothing are cut by --header-timeout, and hundreds of them at once do
// not keep a real subscriber from its pushes; their handshake helpers end with them. Bytes
// that are not TLS are closed at once.
//
// The header timeout (5 s) also bounds the real subscriber's own handshake and request, which
// come behind the 100 handshakes the stalled ClientHellos started: at 2 s, on a loaded machine
// (load ~27 on 2 cores), it was cut as a stalled one before its request was read (2 of 12 runs:
// "read response head: unexpected EOF").
func TestTLSStalledHandshakes(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t, "--header-timeout", "5s")
	hello := clientHello(t)
	idle := n.stats()["goroutines"]
	var conns []net.Conn
	for i := range 300 {
		c := dial(t, n.tls)
		switch i % 3 {
		case 1:
			writeAll(t, c, string(hello[:len(hello)/2]))
		case 2:
			writeAll(t, c, string(hello))
		}
		conns = append(conns, c)
	}
	s := n.subscribeTLS(tls.VersionTLS13, "/sub?topic=stall")
	s.packet()
	n.mustPub(200, "topic/stall", "through the stall")
	if p := s.packet(); !strings.Contains(p, "through the stall") {
		t.Fatalf("subscriber: %s", p)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("a stalled handshake is still open after 15s (--header-timeout 5s)")
			}
		}()
	}
	wg.Wait()
	// The handshake helpers of the stalled conns (100 of them got a whole
	// ClientHello) are gone with them. A little slack: the runtime counts its
	// finalizer and cleanup goroutines as the node's while they run one, and
	// a fresh clone's run once read one goroutine more than at the start.
	waitFor(t, 10*time.Second, "the goroutines to come back down (100 helpers would stay above)", func() bool { return n.stats()["goroutines"] <= idle+3 })
	raw, closed := rawExchange(t, n.tls, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2*time.Second)
	if !closed || raw != "" {
		t.Fatalf("plaintext HTTP on the TLS edge: %q, closed %v; want a close and no answer", raw, closed)
	}
	waitFor(t, 5*time.Second, "the failed handshake to be counted", func() bool { return n.stats()["tls_handshake_failures"] >= 1 })
}

// clientHello returns a crypto/tls client's first record.
func clientHello(t *testing.T) []byte {
	t.Helper()
	b, err := tlstest.ClientHello()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTLSDrain: SIGTERM gives a TLS stream its reconnect frame, then the end of the stream.
func TestTLSDrain(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t, "--drain", "4s", "--retry", "1s")
	s := n.subscribeTLS(tls.VersionTLS12, "/sub?topic=dr")
	s.packet()
	s13 := n.subscribeTLS(tls.VersionTLS13, "/sub?topic=dr")
	s13.packet()
	n.signal(syscall.SIGTERM)
	for _, st := range []*stream{s, s13} {
		checkReconnect(t, "TLS stream", st.packet())
		expectEOF(t, st, "TLS stream")
	}
	if code := n.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
