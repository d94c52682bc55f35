package handoff

import (
	"testing"
)

// FuzzParseRecord: any bytes give a record, "need more" or an error, never a panic; a record
// read re-encodes to the same bytes; every prefix of it is "need more".
func FuzzParseRecord(f *testing.F) {
	c := sampleConn()
	b, _ := AppendRecord(nil, &c)
	f.Add(b)
	l, _ := AppendRecord(nil, &Record{Kind: KindListener, Listener: Listener{Tag: 1}})
	f.Add(l)
	f.Add([]byte{0xff, 0xff, 0, 0, 1, 2})
	lived := sampleConn()
	lived.Conn.AgeEndMs, lived.Conn.ExpiresMs = 1765000360000, 1765000030000
	allowed := lived
	allowed.Conn.Allowed, allowed.Conn.AnyTopic = [][]byte{[]byte("news.*")}, true
	for _, r := range []Record{sampleStored(), sampleSent(), lived, sampleH2(), allowed, sampleIdem()} {
		b, _ := AppendRecord(nil, &r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		n, err := ParseRecord(b, &r)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) {
			t.Fatalf("ParseRecord took %d of %d bytes", n, len(b))
		}
		again, err := AppendRecord(nil, &r)
		if err != nil {
			t.Fatalf("a parsed record does not encode: %v", err)
		}
		if string(again) != string(b[:n]) {
			t.Fatalf("re-encoded %x, parsed %x", again, b[:n])
		}
		for i := 0; i < n; i += 1 + n/64 {
			if k, err := ParseRecord(b[:i], &r); k != 0 || err != nil {
				t.Fatalf("prefix %d of %d: %d, %v; want 0, nil", i, n, k, err)
			}
		}
	})
}

// FuzzHello: a hello packet never panics the parser.
func FuzzHello(f *testing.F) {
	f.Add([]byte{pHello, ProtocolVersion, 1, 0, 'a', 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 4, 0, 0, 0, 1, 0, 0}) // one loop's marks: 1024 slots, 256 stream records
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) == 0 {
			return
		}
		var m Meta
		parseHello(p, &m)
	})
}

// FuzzStreamHandle: the stream receiver fed any bytes, in pieces of any size, with any number
// of descriptors, gives records on, waits for more or fails; never panics, never hands on a
// conn without a descriptor, and keeps no more than the bytes it was fed.
func FuzzStreamHandle(f *testing.F) {
	var wire []byte
	for _, r := range []Record{sampleConn(), {Kind: KindListener, Listener: Listener{Tag: 1}}, sampleStored(), sampleSent(), sampleConn()} {
		wire, _ = AppendRecord(wire, &r)
	}
	f.Add(uint8(3), uint8(7), wire)
	f.Add(uint8(0), uint8(1), wire)
	f.Add(uint8(1), uint8(0), []byte{0xff, 0xff, 0xff, 0x7f, 1, 2})
	f.Fuzz(func(t *testing.T, nfds, piece uint8, b []byte) {
		var a takenConns
		r := streamReceiver{a: &a}
		for range nfds {
			r.fds = append(r.fds, -1)
		}
		step := 1 + int(piece)
		fed := 0
		for off := 0; off < len(b); off += step {
			p := b[off:min(off+step, len(b))]
			r.buf = append(r.buf, p...)
			fed += len(p)
			if err := r.handle(&Taken{}); err != nil {
				return
			}
			if len(r.buf) > fed {
				t.Fatalf("the receiver holds %d bytes, fed %d", len(r.buf), fed)
			}
		}
		if len(a.conns) > int(nfds) {
			t.Fatalf("%d conns handed on with %d descriptors", len(a.conns), nfds)
		}
	})
}
