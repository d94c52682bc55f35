package h2edge_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"github.com/pushwire/pushwire/tlslayer/tlstest"
	"golang.org/x/net/http2"
)

// testNode starts a node on free loopback ports (changed by mutate if not nil)
// and closes it at the test's end.
func testNode(tb testing.TB, mutate func(*server.Config)) *server.Server {
	s, err := server.New(nodetest.Config(mutate))
	return nodetest.Started(tb, s, err)
}

// h2cClient is an x/net/http2 client speaking h2c with prior knowledge: all
// its requests share one connection.
func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// h2Stream is one subscribe stream over HTTP/2.
type h2Stream struct {
	resp   *http.Response
	r      *bufio.Reader
	key    string
	cancel context.CancelFunc
}

func openH2Stream(t *testing.T, client *http.Client, url string) *h2Stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s over h2c: %v", url, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("GET %s = %s %d; want HTTP/2 200", url, resp.Proto, resp.StatusCode)
	}
	if te := resp.TransferEncoding; len(te) != 0 {
		t.Fatalf("Transfer-Encoding %v on an HTTP/2 stream; want none", te)
	}
	st := &h2Stream{resp: resp, r: bufio.NewReader(resp.Body), key: resp.Header.Get("Push-Conn"), cancel: cancel}
	if f := nodetest.ReadFrame(t, st.r); f.State != "registered" || f.Conn != st.key || st.key == "" {
		t.Fatalf("first frame %+v with Push-Conn %q; want registered with that key", f, st.key)
	}
	return st
}

// TestH2StreamsAreSubscribers subscribes three streams on one h2c
// connection: each has its own key and gets only its own messages, a topic
// reaches all, and a reset stream leaves the others.
func TestH2StreamsAreSubscribers(t *testing.T) {
	s := testNode(t, nil)
	client := h2cClient()
	base := "http://" + s.EdgeAddr().String()
	var streams [3]*h2Stream
	for i := range streams {
		streams[i] = openH2Stream(t, client, base+"/sub?topic=all&user=u"+string(rune('0'+i)))
	}
	if streams[0].key == streams[1].key {
		t.Fatal("two streams share a conn key")
	}
	for i, st := range streams {
		if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/conn/"+st.key, "only "+st.key); status != 200 || n != 1 {
			t.Fatalf("publish to stream %d's key = %d, delivered %d; want 200, 1", i, status, n)
		}
		if f := nodetest.ReadFrame(t, st.r); f.Data != "only "+st.key {
			t.Fatalf("stream %d read %+v; want its own message", i, f)
		}
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/all", "everyone"); status != 200 || n != 3 {
		t.Fatalf("publish to the topic = %d, delivered %d; want 200, 3", status, n)
	}
	for i, st := range streams {
		if f := nodetest.ReadFrame(t, st.r); f.Data != "everyone" {
			t.Fatalf("stream %d read %+v; want the topic message", i, f)
		}
	}
	ack, err := client.Post(base+"/ack?conn="+streams[0].key+"&id=1", "", nil)
	if err != nil {
		t.Fatalf("POST /ack over h2c: %v", err)
	}
	body := new(strings.Builder)
	bufio.NewReader(ack.Body).WriteTo(body)
	ack.Body.Close()
	if ack.StatusCode != 200 || body.String() != `{"acked":0}` {
		t.Fatalf("POST /ack over h2c = %d %s; want 200 {\"acked\":0}", ack.StatusCode, body)
	}
	streams[1].cancel() // RST_STREAM CANCEL from the client
	nodetest.WaitFor(t, "the reset stream to leave the table", func() bool {
		status, _ := nodetest.Pub(t, s.APIAddr(), "/pub/conn/"+streams[1].key, "gone?")
		return status == 404
	})
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/all", "after"); status != 200 || n != 2 {
		t.Fatalf("publish to the topic after a reset = %d, delivered %d; want 200, 2", status, n)
	}
	for _, i := range []int{0, 2} {
		if f := nodetest.ReadFrame(t, streams[i].r); f.Data != "after" {
			t.Fatalf("stream %d read %+v; want the message after the reset", i, f)
		}
	}
}

// TestH2AnswersLikeHTTP1 compares the status and fields of the edge's
// non-stream answers over HTTP/1.1 and h2c.
func TestH2AnswersLikeHTTP1(t *testing.T) {
	s := testNode(t, nil)
	h1, h2c := &http.Client{}, h2cClient()
	base := "http://" + s.EdgeAddr().String()
	for _, c := range []struct{ method, path string }{
		{"OPTIONS", "/sub"}, {"GET", "/nope"}, {"POST", "/sub"}, {"GET", "/sub?format=bad"},
		{"POST", "/ack?conn=x&id=1"}, {"POST", "/ack"}, {"HEAD", "/sub"},
	} {
		var got [2]string
		for i, client := range []*http.Client{h1, h2c} {
			req, _ := http.NewRequest(c.method, base+c.path, nil)
			req.Header.Set("Origin", "http://example.com")
			req.Header.Set("Access-Control-Request-Headers", "last-event-id")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			body := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(body)
			resp.Body.Close()
			resp.Header.Del("Date")
			got[i] = resp.Status + " " + headerLine(resp.Header) + " " + body.String()
		}
		if got[0] != got[1] {
			t.Errorf("%s %s:\nHTTP/1.1: %s\nh2c:      %s", c.method, c.path, got[0], got[1])
		}
	}
}

// headerLine is every field of h but the ones HTTP/1.1 alone has (the
// connection's own) and Date, in a stable order.
func headerLine(h http.Header) string {
	h = h.Clone()
	for _, k := range []string{"Date", "Connection", "Keep-Alive", "Transfer-Encoding"} {
		h.Del(k)
	}
	var b strings.Builder
	h.WriteSubset(&b, nil)
	return b.String()
}

// TestH2OverTLSByALPN: on --tls-listen a client offering h2 gets HTTP/2
// (ALPN "h2" first), one offering only http/1.1 gets HTTP/1.1, and both
// streams get the same push.
func TestH2OverTLSByALPN(t *testing.T) {
	pair, err := tlstest.New("h2-alpn", false)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := pair.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := testNode(t, func(c *server.Config) { c.TLSListen, c.TLSCert, c.TLSKey = "127.0.0.1:0", certFile, keyFile })
	base := "https://" + s.TLSAddr().String()
	h2 := &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	var bodies []*bufio.Reader
	for i, c := range []*http.Client{h2, h1} {
		resp, err := c.Get(base + "/sub?topic=tls")
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if want := 2 - i; resp.ProtoMajor != want || resp.TLS.NegotiatedProtocol != []string{"h2", "http/1.1"}[i] {
			t.Fatalf("client %d got %s over ALPN %q; want HTTP/%d", i, resp.Proto, resp.TLS.NegotiatedProtocol, want)
		}
		r := bufio.NewReader(resp.Body)
		if f := nodetest.ReadFrame(t, r); f.State != "registered" {
			t.Fatalf("client %d first frame %+v; want registered", i, f)
		}
		bodies = append(bodies, r)
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/tls", "over tls"); status != 200 || n != 2 {
		t.Fatalf("publish = %d, delivered %d; want 200, 2", status, n)
	}
	for i, r := range bodies {
		if f := nodetest.ReadFrame(t, r); f.Data != "over tls" {
			t.Fatalf("client %d read %+v; want the push", i, f)
		}
	}
}

// TestH2SameFramesAsHTTP1 subscribes over HTTP/1.1 and h2c in every stream
// format and checks that a push arrives as the same bytes (DATA frames carry
// what chunks carry) and that the heads agree but for Push-Conn.
func TestH2SameFramesAsHTTP1(t *testing.T) {
	s := testNode(t, nil)
	base := "http://" + s.EdgeAddr().String()
	h1, h2c := &http.Client{}, h2cClient()
	for _, format := range []string{"ndjson", "sse", "multipart"} {
		var bodies [2]*bufio.Reader
		var heads [2]string
		for i, c := range []*http.Client{h1, h2c} {
			resp, err := c.Get(base + "/sub?topic=same-" + format + "&format=" + format)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			resp.Header.Del("Push-Conn")
			heads[i] = resp.Status + " " + headerLine(resp.Header)
			bodies[i] = bufio.NewReader(resp.Body)
			nodetest.WaitFor(t, "the subscriber", func() bool { _, err := bodies[i].Peek(1); return err == nil })
		}
		if heads[0] != heads[1] {
			t.Errorf("%s heads differ:\nHTTP/1.1: %s\nh2c:      %s", format, heads[0], heads[1])
		}
		for _, m := range []string{"first-marker", "second-marker"} {
			if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/same-"+format, m); status != 200 || n != 2 {
				t.Fatalf("publish = %d, delivered %d; want 200, 2", status, n)
			}
		}
		var got [2]string
		for i, r := range bodies {
			var all []byte
			for !bytes.Contains(all, []byte("second-marker")) {
				b, err := r.ReadByte()
				if err != nil {
					t.Fatalf("%s body %d: %v after %q", format, i, err, all)
				}
				all = append(all, b)
			}
			from := bytes.Index(all, []byte("first-marker"))
			got[i] = string(all[from:])
		}
		if got[0] != got[1] {
			t.Errorf("%s frames differ:\nHTTP/1.1: %q\nh2c:      %q", format, got[0], got[1])
		}
	}
}

// hs256 signs claims as an HS256 JWT with secret.
func hs256(secret, claims string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head))
	return head + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestH2SubscriberAuth: with --jwt-secret a stream needs a token like an
// HTTP/1.1 subscribe (the same 401 without one), and the user is the
// token's; with --auth-url the callback's verdict starts the stream.
func TestH2SubscriberAuth(t *testing.T) {
	t.Run("jwt", func(t *testing.T) {
		s := testNode(t, func(c *server.Config) { c.JWTSecret = "h2-secret" })
		base := "http://" + s.EdgeAddr().String()
		var got [2]string
		for i, client := range []*http.Client{{}, h2cClient()} {
			resp, err := client.Get(base + "/sub?topic=a")
			if err != nil {
				t.Fatal(err)
			}
			body := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(body)
			resp.Body.Close()
			got[i] = resp.Status + " " + headerLine(resp.Header) + body.String()
		}
		if !strings.HasPrefix(got[1], "401") || got[0] != got[1] {
			t.Fatalf("no token:\nHTTP/1.1: %s\nh2c:      %s\nwant the same 401", got[0], got[1])
		}
		token := hs256("h2-secret", fmt.Sprintf(`{"sub":"jwt-user","topics":["a"],"exp":%d}`, time.Now().Add(time.Hour).Unix()))
		st := openH2Stream(t, h2cClient(), base+"/sub?topic=a&token="+token)
		if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/user/jwt-user", "hello"); status != 200 || n != 1 {
			t.Fatalf("publish to the token's user = %d, delivered %d; want 200, 1", status, n)
		}
		if f := nodetest.ReadFrame(t, st.r); f.Data != "hello" {
			t.Fatalf("read %+v; want the push", f)
		}
	})
	t.Run("callback", func(t *testing.T) {
		cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer good" {
				w.WriteHeader(403)
				return
			}
			io.WriteString(w, `{"user":"cb-user","topics":["*"]}`)
		}))
		defer cb.Close()
		s := testNode(t, func(c *server.Config) { c.AuthURL = cb.URL })
		base := "http://" + s.EdgeAddr().String()
		client := h2cClient()
		req, _ := http.NewRequest("GET", base+"/sub?topic=b", nil)
		req.Header.Set("Authorization", "Bearer bad")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("refused by the callback: %d; want 403", resp.StatusCode)
		}
		req, _ = http.NewRequest("GET", base+"/sub?topic=b", nil)
		req.Header.Set("Authorization", "Bearer good")
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Fatalf("allowed by the callback: %s %d; want HTTP/2 200", resp.Proto, resp.StatusCode)
		}
		r := bufio.NewReader(resp.Body)
		if f := nodetest.ReadFrame(t, r); f.State != "registered" {
			t.Fatalf("first frame %+v; want registered", f)
		}
		if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/user/cb-user", "from cb"); status != 200 || n != 1 {
			t.Fatalf("publish to the callback's user = %d, delivered %d; want 200, 1", status, n)
		}
		if f := nodetest.ReadFrame(t, r); f.Data != "from cb" {
			t.Fatalf("read %+v; want the push", f)
		}
	})
}

// TestH2LongPoll: a long-poll on an HTTP/2 stream answers as over HTTP/1.1
// (same status, fields and body) when a message comes, and 204 when
// --poll-timeout passes, next to a stream of the same connection that
// carries on.
func TestH2LongPoll(t *testing.T) {
	s := testNode(t, func(c *server.Config) { c.PollTimeout = 500 * time.Millisecond })
	base := "http://" + s.EdgeAddr().String()
	h2c := h2cClient()
	stream := openH2Stream(t, h2c, base+"/sub?topic=side")
	type answer struct {
		proto int
		text  string
	}
	poll := func(client *http.Client, query string) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			resp, err := client.Get(base + "/sub?format=poll&" + query)
			if err != nil {
				ch <- answer{text: err.Error()}
				return
			}
			body := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(body)
			resp.Body.Close()
			ch <- answer{resp.ProtoMajor, resp.Status + " " + headerLine(resp.Header) + body.String()}
		}()
		return ch
	}
	h1, h2 := poll(&http.Client{}, "topic=p"), poll(h2c, "topic=p")
	nodetest.WaitFor(t, "both polls waiting", func() bool {
		n := int64(0)
		for _, ls := range s.Loops {
			n += ls.Subscribers.Load()
		}
		return n == 3
	})
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/p", "polled"); status != 200 || n != 2 {
		t.Fatalf("publish = %d, delivered %d; want 200, 2", status, n)
	}
	a1, a2 := <-h1, <-h2
	if a2.proto != 2 || !strings.Contains(a2.text, `"data":"polled"`) || a1.text != a2.text {
		t.Fatalf("long-poll answers:\nHTTP/1.1: %s\nh2 (HTTP/%d): %s\nwant the same, with the message", a1.text, a2.proto, a2.text)
	}
	if a := <-poll(h2c, "topic=quiet"); !strings.HasPrefix(a.text, "204") {
		t.Fatalf("a long-poll nothing reached: %s; want 204 after --poll-timeout", a.text)
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/side", "still here"); status != 200 || n != 1 {
		t.Fatalf("publish to the other stream = %d, delivered %d; want 200, 1", status, n)
	}
	if f := nodetest.ReadFrame(t, stream.r); f.Data != "still here" {
		t.Fatalf("the stream next to the polls read %+v", f)
	}
}

// TestH2KickEndsOneStream: DELETE /conn/<key> of one stream resets that
// stream alone; the connection's other stream carries on, and GET
// /conn/<key> describes a stream like a connection.
func TestH2KickEndsOneStream(t *testing.T) {
	s := testNode(t, nil)
	client := h2cClient()
	base := "http://" + s.EdgeAddr().String()
	a := openH2Stream(t, client, base+"/sub?topic=k&user=ka")
	b := openH2Stream(t, client, base+"/sub?topic=k")
	resp, err := http.Get("http://" + s.APIAddr().String() + "/conn/" + a.key)
	if err != nil {
		t.Fatal(err)
	}
	info := new(strings.Builder)
	bufio.NewReader(resp.Body).WriteTo(info)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(info.String(), `"user":"ka","topics":["k"],"format":"ndjson"`) {
		t.Fatalf("GET /conn/<stream key> = %d %s; want the stream described", resp.StatusCode, info)
	}
	req, _ := http.NewRequest("DELETE", "http://"+s.APIAddr().String()+"/conn/"+a.key, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("DELETE /conn/<stream key> = %d; want 200", resp.StatusCode)
	}
	// The kicked stream's last line is the kicked control frame, then its
	// stream ends (END_STREAM); the connection and its other stream stay.
	if line, err := a.r.ReadString('\n'); err != nil || !strings.Contains(line, `"protocol":3`) || !strings.Contains(line, `"cmd":"kicked"`) {
		t.Fatalf("the kicked stream read %q, %v; want the kicked control frame", line, err)
	}
	if line, err := a.r.ReadString('\n'); err == nil {
		t.Fatalf("the kicked stream read on after the kicked frame: %q; want it ended", line)
	}
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/k", "after kick"); status != 200 || n != 1 {
		t.Fatalf("publish after the kick = %d, delivered %d; want 200, 1", status, n)
	}
	if f := nodetest.ReadFrame(t, b.r); f.Data != "after kick" {
		t.Fatalf("the other stream read %+v; want the push", f)
	}
}
