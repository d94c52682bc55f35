package handoff

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleConn() Record {
	return Record{Kind: KindConn, Conn: Conn{
		Handle: 0x0000000501000007, Random: [2]uint64{1, 2}, Listener: 0, Mode: 1, Format: 2, Minor: 1,
		Origin: 3, HasUser: true, Cursor: 99, LastFrameMs: 1765000000123, Peer: [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1},
		User: []byte("alice"), Topics: [][]byte{[]byte("news"), []byte("sport")},
		Transport: TransportPlain, State: []byte{}, Pending: []byte("5\r\nhello\r\n"), Carry: []byte("GET /"),
	}}
}

func TestRecordRoundTrip(t *testing.T) {
	lived := sampleConn()
	lived.Conn.AgeEndMs, lived.Conn.ExpiresMs, lived.Conn.Refreshed = 1765000360000, 1765000030000, true
	allowed := sampleConn() // a stream's allowed topic patterns, with and without a lifetime
	allowed.Conn.Allowed = [][]byte{[]byte("news.*"), []byte("sport")}
	allowedLived := lived
	allowedLived.Conn.Allowed, allowedLived.Conn.AnyTopic = [][]byte{[]byte("a")}, true
	anyTopic := sampleConn()
	anyTopic.Conn.AnyTopic = true
	for _, in := range []Record{sampleConn(), lived, {Kind: KindListener, Listener: Listener{Tag: 1, TLS: true}}, {Kind: KindConn},
		sampleStored(), sampleSent(), {Kind: KindSent}, allowed, allowedLived, anyTopic, sampleIdem()} {
		b, err := AppendRecord([]byte("prefix"), &in)
		if err != nil {
			t.Fatalf("AppendRecord(%v) = %v", in.Kind, err)
		}
		b = append(b, "next"...)
		var out Record
		n, err := ParseRecord(b[6:], &out)
		if err != nil || n != len(b)-6-4 {
			t.Fatalf("ParseRecord = %d, %v; want %d, nil", n, err, len(b)-10)
		}
		normalize(&in)
		normalize(&out)
		if !reflect.DeepEqual(in, out) {
			t.Errorf("round trip: got %+v, want %+v", out, in)
		}
	}
}

func sampleStored() Record {
	return Record{Kind: KindStored, Stored: Stored{User: []byte("alice"), Seq: 77, TimeMs: 1765000000000, Expiry: 1765086400000,
		QoS: 1, JSON: true, To: []byte("user:alice"), Event: []byte("e"), ContentType: []byte("application/json"), Data: []byte(`{"a":1}`)}}
}

func sampleIdem() Record {
	return Record{Kind: KindIdem, Idem: Idem{Key: []byte("order-1"), ExpiresMs: 1765000300000, Answer: []byte(`{"id":"1"}`)}}
}

func sampleSent() Record {
	return Record{Kind: KindSent, Sent: Sent{User: []byte("alice"), Entries: []SentEntry{
		{ID: 77, Expiry: 1765086400000, Handle: 0x100000005, Acked: 0, Missed: 1}, {ID: 78, Handle: 9, Acked: 1765000000500}}}}
}

// normalize makes empty and nil slices compare equal.
func normalize(r *Record) {
	c := &r.Conn
	m := &r.Stored
	if len(r.Sent.Entries) == 0 {
		r.Sent.Entries = nil
	}
	for _, p := range []*[]byte{&c.User, &c.State, &c.Pending, &c.Carry, &m.User, &m.To, &m.Event, &m.ContentType, &m.Data, &r.Sent.User} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	if len(c.Topics) == 0 {
		c.Topics = nil
	}
	if len(c.Allowed) == 0 {
		c.Allowed = nil
	}
}

// TestRecordSplit feeds every prefix of a record: each is "need more" (0, nil), the whole
// is the record.
func TestRecordSplit(t *testing.T) {
	in := sampleConn()
	b, _ := AppendRecord(nil, &in)
	var out Record
	for i := range len(b) {
		if n, err := ParseRecord(b[:i], &out); n != 0 || err != nil {
			t.Fatalf("ParseRecord(first %d of %d bytes) = %d, %v; want 0, nil", i, len(b), n, err)
		}
	}
	if n, err := ParseRecord(b, &out); n != len(b) || err != nil {
		t.Fatalf("ParseRecord(whole) = %d, %v", n, err)
	}
}

func TestRecordBounds(t *testing.T) {
	big := Record{Kind: KindConn, Conn: Conn{User: bytes.Repeat([]byte("u"), MaxName+1)}}
	if _, err := AppendRecord(nil, &big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AppendRecord(user of %d bytes) = %v; want ErrTooLarge", MaxName+1, err)
	}
	many := Record{Kind: KindConn, Conn: Conn{Topics: make([][]byte, MaxTopics+1)}}
	if _, err := AppendRecord(nil, &many); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AppendRecord(%d topics) = %v; want ErrTooLarge", MaxTopics+1, err)
	}
	// A length prefix over MaxRecord is refused before its bytes arrive.
	if _, err := ParseRecord([]byte{0xff, 0xff, 0xff, 0xff}, new(Record)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParseRecord(length 4 GiB) = %v; want ErrTooLarge", err)
	}
}

func TestRecordCorrupt(t *testing.T) {
	good, _ := AppendRecord(nil, &Record{Kind: KindConn, Conn: sampleConn().Conn})
	cases := map[string][]byte{
		"version":        patch(good, 4, 9),
		"kind":           patch(good, 5, 7),
		"bool":           patch(good, recordHead+29, 2),
		"short body":     {3, 0, 0, 0, RecordVersion, byte(KindConn), 0},
		"zero length":    {0, 0, 0, 0},
		"listener bool":  {4, 0, 0, 0, RecordVersion, byte(KindListener), 1, 2},
		"listener extra": {5, 0, 0, 0, RecordVersion, byte(KindListener), 1, 1, 0},
		// The user's length says more than the record holds.
		"user length": patch(good, recordHead+connFixed, 0xff),
		// One byte of the record cut: the lengths no longer add up.
		"trailing": append(patch(good, 0, good[0]+1), 0),
		// Trailers: an unknown flag; the allowed patterns' flag with none; a lifetime of zeros.
		"trailer flag":   append(patch(good, 0, good[0]+1), 8),
		"allowed none":   append(patch(good, 0, good[0]+3), trailerAllowed, 0, 0),
		"lifetime zeros": append(patch(good, 0, good[0]+18), append([]byte{trailerLife}, make([]byte, 17)...)...),
		"idem empty key": {2 + 8 + 2 + 4 + 1, 0, 0, 0, RecordVersion, byte(KindIdem), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'},
	}
	for name, b := range cases {
		if n, err := ParseRecord(b, new(Record)); err == nil {
			t.Errorf("%s: ParseRecord = %d, nil; want an error", name, n)
		}
	}
}

func patch(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}
