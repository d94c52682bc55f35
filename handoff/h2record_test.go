package handoff

import (
	"errors"
	"reflect"
	"testing"
)

func sampleH2() Record {
	sub := sampleConn().Conn
	sub.Pending, sub.Carry, sub.State, sub.Peer = nil, nil, nil, [16]byte{}
	lived := sub
	lived.Handle, lived.AgeEndMs, lived.Topics = 0x0000000380000002, 1765000360000, nil
	return Record{Kind: KindH2, H2: H2{Handle: 0x0000000501000007, Pings: 1, Codec: []byte("codec state"),
		Streams: []H2Stream{{ID: 1, Sub: sub}, {ID: 7, Sub: lived}}}}
}

// TestH2RecordRoundTrip: an HTTP/2 connection's record reads back as written, its streams'
// subscribers included, and a record with no stream too; Receive's copy owns its bytes.
func TestH2RecordRoundTrip(t *testing.T) {
	for _, in := range []Record{sampleH2(), {Kind: KindH2, H2: H2{Handle: 9, Codec: []byte{1}}}} {
		b, err := AppendRecord(nil, &in)
		if err != nil {
			t.Fatalf("AppendRecord = %v", err)
		}
		var out Record
		if n, err := ParseRecord(b, &out); n != len(b) || err != nil {
			t.Fatalf("ParseRecord = %d, %v; want %d, nil", n, err, len(b))
		}
		got := cloneRecord(&out)
		clear(b) // the copy must not view the parsed buffer
		for _, r := range []*Record{&in, &got} {
			for i := range r.H2.Streams {
				normalize(&Record{Conn: r.H2.Streams[i].Sub})
				c := &r.H2.Streams[i].Sub
				if len(c.Topics) == 0 {
					c.Topics = nil
				}
				for _, p := range []*[]byte{&c.State, &c.Pending, &c.Carry} {
					if len(*p) == 0 {
						*p = nil
					}
				}
			}
			if len(r.H2.Streams) == 0 {
				r.H2.Streams = nil
			}
		}
		if !reflect.DeepEqual(in.H2, got.H2) {
			t.Errorf("round trip: got %+v, want %+v", got.H2, in.H2)
		}
	}
}

// TestH2RecordRejects: an H2 record whose lengths do not add up, or whose stream carries
// transport state of its own, is an error on either side.
func TestH2RecordRejects(t *testing.T) {
	withState := sampleH2()
	withState.H2.Streams[0].Sub.Pending = []byte("x")
	if _, err := AppendRecord(nil, &withState); !errors.Is(err, ErrCorrupt) {
		t.Errorf("AppendRecord(a stream with pending output) = %v; want ErrCorrupt", err)
	}
	good, _ := AppendRecord(nil, &Record{Kind: KindH2, H2: sampleH2().H2})
	streams := recordHead + h2Fixed + 4 + len("codec state")
	cases := map[string][]byte{
		"short":          {recordHead - 4 + 3, 0, 0, 0, RecordVersion, byte(KindH2), 1, 2, 3},
		"codec length":   patch(good, recordHead+h2Fixed+3, 0x7f),
		"stream count":   patch(good, streams, 3),
		"stream length":  patch(good, streams+2+4, 0xff),
		"stream state":   patch(good, streams+2+4+4+connFixed+2+len("alice")+2+2+len("news")+2+len("sport"), TransportTLS),
		"trailing bytes": append(patch(good, 0, good[0]+1), 0),
	}
	for name, b := range cases {
		if n, err := ParseRecord(b, new(Record)); err == nil {
			t.Errorf("%s: ParseRecord = %d, nil; want an error", name, n)
		}
	}
}
