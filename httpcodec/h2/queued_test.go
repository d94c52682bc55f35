package h2

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// sumQueued is QueuedTotal counted the slow way, stream by stream.
func sumQueued(c *Conn) int {
	n := 0
	for i := range c.streams {
		n += len(c.streams[i].q)
	}
	return n
}

// checkQueued fails unless the connection's running total of queued DATA
// is the sum of its streams' queues, and is want.
func checkQueued(t *testing.T, c *Conn, when string, want int) {
	t.Helper()
	if got, sum := c.QueuedTotal(), sumQueued(c); got != sum || got != want {
		t.Fatalf("%s: QueuedTotal = %d, streams' queues sum to %d; want %d", when, got, sum, want)
	}
}

// TestQueuedTotalExact: the connection-wide total the loop weighs against
// --write-buffer-limit (the attack: stream windows wide open, the
// connection window never given back) stays the exact sum of the streams'
// queues as DATA queues, leaves through window updates, is dropped by a
// reset from either side, drains with END_STREAM, moves through
// AppendState/Restore, and goes with the connection.
func TestQueuedTotalExact(t *testing.T) {
	s, cl := open(t, Config{}, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 30}}, 1, 3, 5, 7)
	for _, id := range []uint32{1, 3, 5, 7} {
		s.out, _ = s.c.WriteHeaders(s.out, id, 200, nil, false)
	}
	s.out, _ = s.c.WriteData(s.out, 1, make([]byte, defaultWindow), false) // the connection window, spent
	checkQueued(t, s.c, "the connection window spent exactly", 0)
	msg := []byte(strings.Repeat("q", 1000))
	for range 3 {
		for _, id := range []uint32{1, 3, 5, 7} {
			s.out, _ = s.c.WriteData(s.out, id, msg, false)
		}
	}
	checkQueued(t, s.c, "3 messages to 4 streams behind a shut connection window", 12000)
	if s.c.Queued(3) != 3000 {
		t.Fatalf("Queued(3) = %d; want 3000 (under a per-stream limit that the total passes)", s.c.Queued(3))
	}

	cl.fr.WriteWindowUpdate(0, 2500) // a frame of up to 16 KiB per stream per round: 1000, 1000, 500
	s.feed(t, cl.take())
	checkQueued(t, s.c, "after the connection window opened by 2500", 12000-2500)

	cl.fr.WriteRSTStream(5, http2.ErrCodeCancel) // the peer drops one stream
	s.feed(t, cl.take())
	q5 := 3000
	if s.c.find(5) >= 0 {
		t.Fatal("stream 5 still open after the peer reset it")
	}
	// Which streams the 2500 bytes left from depends on the round order;
	// the sum of those left is what counts.
	checkQueued(t, s.c, "after the peer reset stream 5", sumQueued(s.c))
	if s.c.QueuedTotal() > 12000-2500 || s.c.QueuedTotal() < 12000-2500-q5 {
		t.Fatalf("after the peer reset stream 5: QueuedTotal = %d; want between %d and %d", s.c.QueuedTotal(), 12000-2500-q5, 12000-2500)
	}

	before, q7 := s.c.QueuedTotal(), s.c.Queued(7)
	s.out, _ = s.c.Reset(s.out, 7, Cancel) // the loop cuts one stream
	checkQueued(t, s.c, "after Reset(7)", before-q7)

	s.out, _ = s.c.WriteData(s.out, 1, []byte("end"), true) // END_STREAM waits behind the queue
	checkQueued(t, s.c, "END_STREAM queued on stream 1", before-q7+3)

	state, err := s.c.AppendState(nil)
	if err != nil {
		t.Fatalf("AppendState: %v", err)
	}
	moved, err := Restore(state)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	checkQueued(t, moved, "restored from AppendState", before-q7+3)

	for _, c := range []*Conn{s.c, moved} {
		var out []byte
		cl.fr.WriteWindowUpdate(0, 1<<20)
		out, _, _ = c.Feed(out, cl.take())
		checkQueued(t, c, "after the connection window opened wide", 0)
		if c.find(1) >= 0 {
			t.Fatal("stream 1 still open after its queue and END_STREAM went out")
		}
		if !bytes.Contains(out, []byte("end")) {
			t.Fatal("the queued END_STREAM DATA did not go out")
		}
	}
}

// TestQueuedTotalGoesWithTheConnection: GOAWAY with an error code and a
// connection error drop every queue, and the total with them.
func TestQueuedTotalGoesWithTheConnection(t *testing.T) {
	for _, end := range []struct {
		name string
		do   func(s *server, cl *client)
	}{
		{"GoAway(EnhanceYourCalm)", func(s *server, _ *client) { s.out = s.c.GoAway(s.out, EnhanceYourCalm) }},
		{"a connection error", func(s *server, cl *client) {
			cl.fr.WriteWindowUpdate(0, 0) // a zero increment on the connection: PROTOCOL_ERROR
			s.feed(t, cl.take())
		}},
	} {
		s, cl := open(t, Config{}, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 0}}, 1, 3)
		for _, id := range []uint32{1, 3} {
			s.out, _ = s.c.WriteHeaders(s.out, id, 200, nil, false)
			s.out, _ = s.c.WriteData(s.out, id, []byte("waiting"), false)
		}
		checkQueued(t, s.c, end.name+": before", 14)
		end.do(s, cl)
		if !s.c.Closed() {
			t.Fatalf("%s: the connection is not closed", end.name)
		}
		checkQueued(t, s.c, end.name+": after", 0)
	}
}
