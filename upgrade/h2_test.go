package upgrade_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/httpcodec/h2"
	"github.com/pushwire/pushwire/internal/nodetest"
	"github.com/pushwire/pushwire/server"
	"github.com/pushwire/pushwire/upgrade"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// takeOverWith runs TakeOver on a fresh server (its plaintext listeners on free ports, its
// configuration changed by tweak if not nil) against an old side that send drives from its
// hello on; it returns what the old side's AwaitReady and TakeOver said. A takeover that says
// ready is then aborted by the old side, as on a late write: no test keeps one.
func takeOverWith(t *testing.T, tweak func(*server.Config), send func(snd *handoff.Sender, old *net.UnixConn) error) (awaitErr, takeErr error) {
	t.Helper()
	s, err := server.New(nodetest.Config(tweak))
	if err != nil {
		t.Fatal(err)
	}
	old, newSide := handoffPair(t)
	deadline := time.Now().Add(10 * time.Second)
	took := make(chan error, 1)
	go func() { _, err := s.TakeOver(newSide, deadline); took <- err }()
	snd := handoff.NewSender(old, deadline)
	if err := snd.AwaitStarted(); err != nil {
		t.Fatal(err)
	}
	if err := send(snd, old); err != nil {
		t.Fatal(err)
	}
	if awaitErr = snd.AwaitReady(); awaitErr == nil {
		handoff.Abort(old, "test: a write reached a handed-over connection")
	}
	return awaitErr, <-took
}

// handoffPair is a handoff's socketpair: the old process's end and the new one's, closed at the
// test's end.
func handoffPair(t *testing.T) (old, newSide *net.UnixConn) {
	t.Helper()
	old, child, err := handoff.Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { old.Close() })
	newSide, err = handoff.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { newSide.Close() })
	return old, newSide
}

// sendH2Conn sends a hello, the plaintext listeners and an HTTP/2 connection's record, then
// the given H2 record (nil: none), and ends.
func sendH2Conn(t *testing.T, h2rec *handoff.H2) func(*handoff.Sender, *net.UnixConn) error {
	return func(snd *handoff.Sender, _ *net.UnixConn) error {
		if err := snd.Hello(testMeta()); err != nil {
			return err
		}
		for _, tag := range []int{edge.ListenerAPI, edge.ListenerEdge} {
			snd.Add(&handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(tag)}}, listenerFD(t))
		}
		conn := handoff.Record{Kind: handoff.KindConn, Conn: handoff.Conn{
			Handle: uint64(engine.Handle(1<<32 | 1)), Listener: edge.ListenerEdge, Mode: uint8(edge.ModeH2)}}
		if err := snd.Add(&conn, listenerFD(t)); err != nil {
			return err
		}
		if h2rec != nil {
			h2rec.Handle = conn.Conn.Handle
			if err := snd.Add(&handoff.Record{Kind: handoff.KindH2, H2: *h2rec}, -1); err != nil {
				return err
			}
		}
		return snd.End()
	}
}

// TestTakeOverRefusesUnusableH2: an HTTP/2 connection whose codec state describes no quiet
// connection, or that comes without its H2 record, is refused with a clear error by the new
// process, which aborts the handoff: the old process's AwaitReady sees the reason (and keeps
// its connections); nothing panics.
func TestTakeOverRefusesUnusableH2(t *testing.T) {
	for name, c := range map[string]struct {
		rec  *handoff.H2
		want string
	}{
		"corrupt codec state":  {&handoff.H2{Codec: []byte{1, 2, 3}}, "unusable connection state"},
		"no H2 record":         {nil, "without its codec state"},
		"a stream of no codec": {&handoff.H2{Codec: quietCodecState(t), Streams: []handoff.H2Stream{{ID: 1}}}, "names no open subscriber stream"},
		"a stream record of another loop": {&handoff.H2{Codec: quietCodecState(t, 1),
			Streams: []handoff.H2Stream{h2Sub(1, conntable.StreamSub(1, 5, 1))}}, "names no open subscriber stream"},
		"one stream record twice": {&handoff.H2{Codec: quietCodecState(t, 1, 3),
			Streams: []handoff.H2Stream{h2Sub(1, conntable.StreamSub(0, 5, 1)), h2Sub(3, conntable.StreamSub(0, 5, 1))}}, "taken twice"},
	} {
		awaitErr, takeErr := takeOverWith(t, nil, sendH2Conn(t, c.rec))
		if !errors.Is(awaitErr, handoff.ErrAborted) || !strings.Contains(awaitErr.Error(), c.want) {
			t.Errorf("%s: the old side's AwaitReady = %v; want the new side's abort saying %q", name, awaitErr, c.want)
		}
		if takeErr == nil || !strings.Contains(takeErr.Error(), c.want) {
			t.Errorf("%s: TakeOver = %v; want an error saying %q", name, takeErr, c.want)
		}
	}
}

// TestTakeOverRefusesOtherProtocol: an old process speaking handoff protocol 3 (before
// Idempotency-Keys, allowed patterns and loop marks moved) meets a new one that speaks 4: the
// new process aborts naming both
// versions, and the old one's AwaitReady sees it (it carries on, counted as a failed upgrade).
func TestTakeOverRefusesOtherProtocol(t *testing.T) {
	awaitErr, takeErr := takeOverWith(t, nil, func(_ *handoff.Sender, old *net.UnixConn) error {
		_, _, err := old.WriteMsgUnix([]byte{1, handoff.ProtocolVersion - 1}, nil, nil) // a hello of the version before
		return err
	})
	if !errors.Is(takeErr, handoff.ErrVersion) || !strings.Contains(takeErr.Error(), "protocol version 3 (this build speaks 4)") {
		t.Errorf("TakeOver = %v; want ErrVersion naming protocol versions 3 and 4", takeErr)
	}
	if !errors.Is(awaitErr, handoff.ErrAborted) || !strings.Contains(awaitErr.Error(), "version") {
		t.Errorf("the old side's AwaitReady = %v; want the new side's abort naming the version", awaitErr)
	}
}

// quietCodecState is the state of a codec whose handshake is done and that holds no stream.
// With streams, it holds GET streams of those ids open.
func quietCodecState(t *testing.T, streams ...uint32) []byte {
	t.Helper()
	var in bytes.Buffer
	in.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&in, nil)
	fr.WriteSettings()
	fr.WriteSettingsAck()
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	enc.SetMaxDynamicTableSizeLimit(0) // as a client does once it acknowledged our SETTINGS
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "t"}, {":path", "/sub"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for _, id := range streams { // the same block each time: literals, and the size update again
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk.Bytes(), EndStream: true, EndHeaders: true})
	}
	c := h2.NewConn(h2.Config{})
	out := c.Start(nil)
	b := in.Bytes()
	for {
		var n int
		var ev h2.Event
		out, n, ev = c.Feed(out, b)
		b = b[n:]
		if ev.Kind == h2.EventNone {
			break
		}
	}
	state, err := c.AppendState(nil)
	if err != nil || c.NumStreams() != len(streams) {
		t.Fatalf("AppendState after the handshake: %v, %d streams open; want nil, %d", err, c.NumStreams(), len(streams))
	}
	return state
}

// h2Sub is the record of a subscriber stream id in stream record sub.
func h2Sub(id uint32, sub conntable.Sub) handoff.H2Stream {
	return handoff.H2Stream{ID: id, Sub: handoff.Conn{Handle: uint64(sub), Mode: uint8(edge.ModeStream), Minor: edge.FramingH2}}
}

// TestQuiesceWaitsForH2HeaderBlock: an HTTP/2 connection in the middle of a header block
// cannot move (the HPACK decoder holds part of a field): a quiesce round counts it busy and
// leaves it attached, so the rest of the block is read; once the request is answered the next
// round takes it. A handoff undone then (stepResume) leaves the connection as it was: both
// streams get the next push.
func TestQuiesceWaitsForH2HeaderBlock(t *testing.T) {
	s := testNode(t, nil)
	c := nodetest.DialRawH2(t, s.EdgeAddr())
	c.Get(1, "/sub?topic=q")
	c.Until("stream 1's registered frame", nodetest.IsData(1, "registered"))

	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "t"}, {":path", "/sub?topic=q"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	half := blk.Len() / 2
	if err := c.Fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk.Bytes()[:half], EndStream: true}); err != nil {
		t.Fatal(err)
	}
	// Until the loop has read the HEADERS, a round may take the connection (it is quiet):
	// undo and try again. HandOff would set how long a connection may stay unquiet.
	deadline := time.Now().Add(10 * time.Second)
	s.Upgrader.SetH2Until(deadline)
	for s.Upgrader.Round(upgrade.StepQuiesce) == 0 {
		s.Upgrader.Round(upgrade.StepResume)
		if time.Now().After(deadline) {
			t.Fatal("no quiesce round found the header block in progress")
		}
		time.Sleep(time.Millisecond)
	}
	if busy := s.Upgrader.Round(upgrade.StepQuiesce); busy != 1 {
		t.Fatalf("a second round: %d busy; want 1 (the header block is still open)", busy)
	}
	if err := c.Fr.WriteContinuation(3, true, blk.Bytes()[half:]); err != nil {
		t.Fatal(err)
	}
	c.Until("stream 3's registered frame (the connection is still read)", nodetest.IsData(3, "registered"))
	if busy := s.Upgrader.Round(upgrade.StepQuiesce); busy != 0 {
		t.Fatalf("a round after the block ended: %d busy; want 0", busy)
	}
	moved := 0
	for _, h := range s.Upgrader.Detached() {
		ran := make(chan bool)
		s.Eng.Submit(h.Loop(), engine.Task{Op: edge.OpRun, V: func(*engine.Loop) {
			c := s.Loops[h.Loop()].Live(h)
			ran <- c != nil && c.Mode == edge.ModeH2 && c.Parser != 0 // an HTTP/2 connection with its codec
		}})
		if <-ran {
			moved++
		}
	}
	if moved != 1 {
		t.Fatalf("%d HTTP/2 connections detached; want 1", moved)
	}
	s.Upgrader.Round(upgrade.StepResume)
	if status, n := nodetest.Pub(t, s.APIAddr(), "/pub/topic/q", "after"); status != 200 || n != 2 {
		t.Fatalf("publish after the undone handoff = %d, delivered %d; want 200, 2", status, n)
	}
	got := map[uint32]bool{}
	c.Until("the push on both streams", func(f http2.Frame) bool {
		for _, id := range []uint32{1, 3} {
			got[id] = got[id] || nodetest.IsData(id, `"data":"after"`)(f)
		}
		return got[1] && got[3]
	})
}

// TestTakeOverBoundsStreamIndex (review 7, finding 7): the stream record index of a
// handed-over HTTP/2 stream is held to the old process's stream records (the hello's loop
// marks). One bad index used to make the takeover grow its stream pages to 2^23 records
// (~0.9 GiB) and answer ready; now it aborts the takeover (the old process carries on) with
// an error naming the index, and allocates next to nothing.
func TestTakeOverBoundsStreamIndex(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rec := &handoff.H2{Codec: quietCodecState(t, 1), Streams: []handoff.H2Stream{h2Sub(1, conntable.StreamSub(0, conntable.MaxStreamSubs-1, 1))}}
	awaitErr, takeErr := takeOverWith(t, nil, sendH2Conn(t, rec))
	runtime.ReadMemStats(&after)
	grew := (after.TotalAlloc - before.TotalAlloc) >> 20
	if grew > 64 {
		t.Errorf("one HTTP/2 stream with record index %d made the takeover allocate %d MiB; want the index bounded by the old process's records", conntable.MaxStreamSubs-1, grew)
	}
	if !errors.Is(awaitErr, handoff.ErrAborted) || takeErr == nil || !strings.Contains(takeErr.Error(), "past the old process's 1024 stream records") {
		t.Errorf("AwaitReady = %v, TakeOver = %v; want the takeover aborted for the stream index past 1024", awaitErr, takeErr)
	}
}

// TestTakeOverBoundsConnSlot (review 7, finding 7): a connection record's slot is held to the
// old process's slots on its loop (and to conntable.MaxConnSlots): a slot past them aborts the
// takeover, before the engine grows its slab to it.
func TestTakeOverBoundsConnSlot(t *testing.T) {
	for _, slot := range []int{1024, conntable.MaxConnSlots + 5} {
		awaitErr, takeErr := takeOverWith(t, nil, func(snd *handoff.Sender, _ *net.UnixConn) error {
			if err := snd.Hello(testMeta()); err != nil {
				return err
			}
			for _, tag := range []int{edge.ListenerAPI, edge.ListenerEdge} {
				snd.Add(&handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: uint8(tag)}}, listenerFD(t))
			}
			conn := handoff.Record{Kind: handoff.KindConn, Conn: handoff.Conn{
				Handle: uint64(1<<32 | slot), Listener: edge.ListenerEdge, Mode: uint8(edge.ModeRequest)}}
			if err := snd.Add(&conn, listenerFD(t)); err != nil {
				return err
			}
			return snd.End()
		})
		if !errors.Is(awaitErr, handoff.ErrAborted) || takeErr == nil || !strings.Contains(takeErr.Error(), "the old process had 1024 slots") {
			t.Errorf("slot %d: AwaitReady = %v, TakeOver = %v; want the takeover aborted for the slot past 1024", slot, awaitErr, takeErr)
		}
	}
}

// TestHandOffCarriesH2AllowedPatterns (review 7, finding 4, HTTP/2): the topic patterns a token
// allowed an HTTP/2 stream move with it (its subscriber record in the KindH2 record), so a
// server-side subscribe the token allows is answered 200 by the new process too. It was 403:
// the new process held the stream to --topic-acl alone.
func TestHandOffCarriesH2AllowedPatterns(t *testing.T) {
	withJWT := func(c *server.Config) { c.JWTSecret = "h2-secret" }
	old := testNode(t, withJWT)
	c := nodetest.DialRawH2(t, old.EdgeAddr())
	c.Get(1, "/sub?topic=news.a&token="+hs256("h2-secret", fmt.Sprintf(`{"sub":"u1","topics":["news.*"],"exp":%d}`, time.Now().Add(time.Hour).Unix())))
	c.Until("the stream's answer", func(f http2.Frame) bool { h, ok := f.(*http2.HeadersFrame); return ok && h.StreamID == 1 })
	key := c.Hdrs[1]["push-conn"]
	if key == "" {
		t.Fatalf("stream 1's answer %v has no push-conn", c.Hdrs[1])
	}
	next := handOffTo(t, old, withJWT)
	resp, err := http.Post("http://"+next.APIAddr().String()+"/subscriptions/conn/"+key+"?topic=news.c", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"changed":1`) {
		t.Errorf("a server-side subscribe of news.c, which the stream's token allows (news.*), after the handoff = %d %s; want 200 changed 1", resp.StatusCode, body)
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
