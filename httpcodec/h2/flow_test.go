package h2

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2"
)

// windowChecker reads server output as a client would, with x/net's Framer,
// keeping the windows the client granted, and fails on any DATA past them.
type windowChecker struct {
	t       *testing.T
	conn    int64
	init    int64
	streams map[uint32]int64 // window left
	got     map[uint32][]byte
	ended   map[uint32]bool
}

func (w *windowChecker) grantStream(id uint32, n int64) { w.streams[id] += n }

func (w *windowChecker) setInitial(v int64) {
	for id := range w.streams {
		w.streams[id] += v - w.init
	}
	w.init = v
}

func (w *windowChecker) read(out []byte) {
	fr := http2.NewFramer(io.Discard, bytes.NewReader(out))
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			w.t.Fatalf("Framer: %v", err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if _, ok := w.streams[f.StreamID]; !ok {
				w.t.Fatalf("HEADERS on stream %d the client never opened", f.StreamID)
			}
		case *http2.DataFrame:
			id, n := f.StreamID, int64(len(f.Data()))
			if w.ended[id] {
				w.t.Fatalf("DATA on stream %d after END_STREAM", id)
			}
			w.conn -= n
			w.streams[id] -= n
			if w.conn < 0 || w.streams[id] < 0 {
				w.t.Fatalf("DATA of %d bytes on stream %d overran a window: connection %d, stream %d", n, id, w.conn, w.streams[id])
			}
			w.got[id] = append(w.got[id], f.Data()...)
			if f.StreamEnded() {
				w.ended[id] = true
			}
		case *http2.RSTStreamFrame:
			w.ended[f.StreamID] = true
		}
	}
}

// TestFlowControlRandom: random writes on random streams against random
// window grants, SETTINGS_INITIAL_WINDOW_SIZE changes and resets. No DATA
// may pass a window the client granted; once every window is opened wide,
// each stream that was not reset has received exactly what was written, in
// order, ending with END_STREAM.
func TestFlowControlRandom(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		init := int64(rng.IntN(3000))
		ids := []uint32{1, 3, 5, 7, 9}
		s, cl := open(t, Config{}, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: uint32(init)}}, ids...)
		w := &windowChecker{t: t, conn: defaultWindow, init: init, streams: map[uint32]int64{},
			got: map[uint32][]byte{}, ended: map[uint32]bool{}}
		want := map[uint32][]byte{}
		reset := map[uint32]bool{}
		for _, id := range ids {
			w.streams[id] = init
			s.out, _ = s.c.WriteHeaders(s.out, id, 200, nil, false)
		}
		for step := range 200 {
			id := ids[rng.IntN(len(ids))]
			switch op := rng.IntN(10); {
			case op < 6:
				p := bytes.Repeat([]byte{byte('a' + step%26)}, rng.IntN(5000))
				var err error
				s.out, err = s.c.WriteData(s.out, id, p, false)
				if err == nil {
					want[id] = append(want[id], p...)
				} else if !reset[id] {
					t.Fatalf("seed %d: WriteData on live stream %d: %v", seed, id, err)
				}
			case op < 8:
				n := uint32(1 + rng.IntN(4000))
				if rng.IntN(2) == 0 {
					cl.fr.WriteWindowUpdate(0, n)
					w.conn += int64(n)
				} else {
					cl.fr.WriteWindowUpdate(id, n)
					w.grantStream(id, int64(n))
				}
			case op == 8:
				v := int64(rng.IntN(6000))
				cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(v)})
				w.setInitial(v)
			default:
				if rng.IntN(4) == 0 && !reset[id] {
					s.out, _ = s.c.Reset(s.out, id, Cancel)
					reset[id] = true
				}
			}
			w.read(s.out)
			s.out = s.out[:0]
			s.feed(t, cl.take())
			w.read(s.out)
			s.out = s.out[:0]
		}
		// End every live stream, then open all windows wide.
		for _, id := range ids {
			if !reset[id] {
				s.out, _ = s.c.WriteData(s.out, id, nil, true)
			}
		}
		w.read(s.out)
		s.out = s.out[:0]
		cl.fr.WriteWindowUpdate(0, 1<<30)
		w.conn += 1 << 30
		for _, id := range ids {
			cl.fr.WriteWindowUpdate(id, 1<<30)
			w.grantStream(id, 1<<30)
		}
		s.feed(t, cl.take())
		w.read(s.out)
		for _, id := range ids {
			if reset[id] {
				continue
			}
			if !bytes.Equal(w.got[id], want[id]) || !w.ended[id] {
				t.Fatalf("seed %d stream %d: got %d bytes (ended %v); want %d", seed, id, len(w.got[id]), w.ended[id], len(want[id]))
			}
		}
		if q := s.c.QueuedTotal(); q != 0 {
			t.Fatalf("seed %d: %d bytes still queued", seed, q)
		}
	}
}
