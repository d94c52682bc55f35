package acceptance

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Bad peers on the TLS edge (issue 12, item 7): a reader that stalls mid-broadcast is cut
// as in plaintext (TestSlowReaderCut), and a forged, truncated or oversized record ends the
// connection with an alert, or a close, and nothing of it reaches the HTTP layer.

// TestTLSSlowReaderCut: a TLS subscriber that stops reading is cut once its pending output
// (sealed records) passes --write-buffer-limit, is counted, and never holds back a reading
// TLS subscriber or the publisher.
func TestTLSSlowReaderCut(t *testing.T) {
	t.Parallel()
	const msgs, size = 200, 8 << 10
	n := startTLSNode(t, "--write-buffer-limit", "64KiB")
	for _, vers := range tlsVersions {
		topic := "big" + map[uint16]string{tls.VersionTLS12: "12", tls.VersionTLS13: "13"}[vers]
		slow := tls.Client(dialSmallWindow(t, n.tls), &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
		writeAll(t, slow, "GET /sub?topic="+topic+" HTTP/1.1\r\nHost: x\r\n\r\n")
		slowStream := readStreamHead(t, slow, "slow TLS subscribe")
		slowStream.packet()

		fast := n.subscribeTLS(vers, "/sub?topic="+topic)
		fast.packet()
		before := n.stats()
		payload := strings.Repeat("p", size)
		// Each push is read by the reading subscriber before the next is published, so that
		// only the stalled one falls behind; line fails the test if the stream breaks.
		for i := range msgs {
			if r := n.pub("topic/"+topic, payload); r.status != 200 {
				t.Fatalf("publish %d = %d %s; want 200", i, r.status, r.body)
			}
			if l := fast.line(); !strings.Contains(l, payload) {
				t.Fatalf("the reading TLS subscriber got %.80q at message %d of %d; want the payload", l, i, msgs)
			}
		}
		st := n.stats()
		if st["slow_consumers"] <= before["slow_consumers"] {
			t.Errorf("TLS %x: /stats slow_consumers = %v (before %v); want the stalled reader counted", vers, st["slow_consumers"], before["slow_consumers"])
		}
		if st["connections"] != 1 {
			t.Errorf("TLS %x: /stats connections = %v; want 1 (the slow reader removed)", vers, st["connections"])
		}
		slow.SetReadDeadline(time.Now().Add(ioTimeout))
		got, err := io.Copy(io.Discard, slowStream.raw)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("TLS %x: slow reader still open after reading %d bytes", vers, got)
		}
		if got >= int64(msgs*size) {
			t.Errorf("TLS %x: slow reader got %d bytes, all of it; want it cut", vers, got)
		}
		if r := n.pub("conn/"+slowStream.key, "x"); r.status != 404 {
			t.Errorf("TLS %x: POST /pub/conn/<cut key> = %d; want 404", vers, r.status)
		}
		fast.close()
		waitFor(t, 5*time.Second, "the fast subscriber gone", func() bool { return n.stats()["connections"] == 0 })
	}
}

// badWriter passes writes through until armed, then spoils the next one: flip a byte of its
// last record (a forgery), or send it short and shut the write side (a truncation).
type badWriter struct {
	net.Conn
	mode atomic.Int32
}

const (
	writeAsIs = iota
	writeForged
	writeTruncated
)

func (b *badWriter) Write(p []byte) (int, error) {
	switch b.mode.Swap(writeAsIs) {
	case writeForged:
		q := append([]byte(nil), p...)
		q[len(q)-3] ^= 1
		_, err := b.Conn.Write(q)
		return len(p), err
	case writeTruncated:
		_, err := b.Conn.Write(p[:len(p)-8])
		b.Conn.(*net.TCPConn).CloseWrite()
		return len(p), err
	}
	return b.Conn.Write(p)
}

// TestTLSBadRecords: the first half of a subscribe request goes in a good record, the rest in
// a record that is forged, cut short by the end of the stream, or announced over the length
// limit. Were any of its bytes taken, the request would be complete and answered; instead
// the client gets the alert (bad_record_mac, record_overflow) or the close, and no byte of an
// answer, and no subscriber is left behind.
func TestTLSBadRecords(t *testing.T) {
	t.Parallel()
	n := startTLSNode(t)
	cases := []struct {
		name, alert string
		mode        int32
	}{
		{"forged", "bad record MAC", writeForged},
		{"truncated", "", writeTruncated},
		{"oversized", "record overflow", -1},
	}
	for _, vers := range tlsVersions {
		for _, tc := range cases {
			raw := dial(t, n.tls)
			bw := &badWriter{Conn: raw}
			c := tls.Client(bw, &tls.Config{InsecureSkipVerify: true, MinVersion: vers, MaxVersion: vers})
			writeAll(t, c, "GET /sub?topic=bad HTTP/1.1\r\n")
			if tc.mode < 0 {
				// a header announcing 18,433 bytes: over both versions' limit
				if _, err := raw.Write([]byte{23, 3, 3, 0x48, 0x01, 'x'}); err != nil {
					t.Fatal(err)
				}
			} else {
				bw.mode.Store(tc.mode)
				c.Write([]byte("Host: x\r\n\r\n"))
			}
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			got, err := io.ReadAll(c)
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Fatalf("TLS %x %s record: the connection is still open", vers, tc.name)
			case len(got) > 0:
				t.Fatalf("TLS %x %s record: the client read %q; want nothing", vers, tc.name, got)
			case tc.alert != "" && (err == nil || !strings.Contains(err.Error(), tc.alert)):
				t.Fatalf("TLS %x %s record: read error %v; want the %q alert", vers, tc.name, err, tc.alert)
			}
			c.Close()
		}
	}
	waitFor(t, 5*time.Second, "every bad connection closed", func() bool { return n.stats()["connections"] == 0 })
	if res := n.mustPub(200, "topic/bad", "x"); string(res["delivered"]) != "0" {
		t.Fatalf("a publish to the bad connections' topic was delivered %s times; want 0", res["delivered"])
	}
}
