package links

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrameRoundTrip(t *testing.T) {
	pushes := []Push{
		{Trace: 7, ID: "m1", To: "user:42", Event: "e", ContentType: "application/json", JSON: true, QoS: 1, Kind: 2, Data: []byte(`{"a":1}`)},
		{ID: "m2", To: "all", Kind: 4},
		{ID: "m3", To: "conn:k", Data: bytes.Repeat([]byte("x"), 100000)},
	}
	var stream []byte
	stream = appendHello(stream, "node-a")
	for i := range pushes {
		stream = appendPush(stream, uint64(100+i), &pushes[i])
	}
	stream = appendResult(stream, 9, Result{Delivered: 3})
	stream = appendResult(stream, 10, Result{Err: "no live connection"})

	readers := map[string]func() io.Reader{
		"whole":  func() io.Reader { return bytes.NewReader(stream) },
		"bytes":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"halves": func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
	}
	for name, mk := range readers {
		fr := newFrameReader(mk(), 16, 1<<20)
		var got []byte
		var p Push
		i := 0
		for {
			typ, body, ok, err := fr.next()
			if err != nil {
				t.Fatalf("%s: next = %v", name, err)
			}
			if !ok {
				if err := fr.fill(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: fill = %v", name, err)
				}
				continue
			}
			got = append(got, typ)
			switch typ {
			case typeHello:
				if string(body) != "\x01node-a" {
					t.Errorf("%s: hello body = %q", name, body)
				}
			case typePush:
				corr, err := decodePush(body, &p)
				want := pushes[i]
				if err != nil || corr != uint64(100+i) || p.ID != want.ID || p.To != want.To || p.Event != want.Event ||
					p.ContentType != want.ContentType || p.JSON != want.JSON || p.QoS != want.QoS || p.Trace != want.Trace || p.Kind != want.Kind ||
					!bytes.Equal(p.Data, want.Data) {
					t.Errorf("%s: push %d = corr %d %+v, %v; want corr %d %+v", name, i, corr, p.ID, err, 100+i, want.ID)
				}
				i++
			case typeResult:
				corr, r, err := decodeResult(body)
				if err != nil || (corr == 9 && r != Result{Delivered: 3}) || (corr == 10 && r != Result{Err: "no live connection"}) {
					t.Errorf("%s: result = %d %+v %v", name, corr, r, err)
				}
			}
		}
		if want := []byte{3, 1, 1, 1, 2, 2}; !bytes.Equal(got, want) {
			t.Errorf("%s: frame types = %v; want %v", name, got, want)
		}
	}
}

func TestFrameTooBig(t *testing.T) {
	stream := appendPush(nil, 1, &Push{Data: make([]byte, 2000)})
	fr := newFrameReader(bytes.NewReader(stream), 64, 1024)
	for {
		_, _, ok, err := fr.next()
		if errors.Is(err, errFrameTooBig) {
			return
		}
		if ok || err != nil {
			t.Fatalf("next = %v, %v; want errFrameTooBig", ok, err)
		}
		if err := fr.fill(); err != nil {
			t.Fatalf("fill = %v before the size check", err)
		}
	}
}

func TestDecodeTruncated(t *testing.T) {
	frame := appendPush(nil, 1, &Push{ID: "id", To: "user:1", Event: "e", Data: []byte("d")})
	body := frame[frameHeader:]
	var p Push
	for n := 0; n < 22; n++ { // every cut inside the fixed part and the length-prefixed strings
		if _, err := decodePush(body[:n], &p); err == nil {
			t.Errorf("decodePush(%d bytes) = nil error; want errBadFrame", n)
		}
	}
	if _, _, err := decodeResult([]byte{1, 2, 3}); err == nil {
		t.Error("decodeResult(3 bytes) = nil error; want errBadFrame")
	}
}

func TestDecodePushReusesStrings(t *testing.T) {
	frame := appendPush(nil, 1, &Push{ID: "m", To: "topic:news", Event: "e", ContentType: "text/plain"})
	var p Push
	decodePush(frame[frameHeader:], &p)
	allocs := testing.AllocsPerRun(100, func() {
		decodePush(frame[frameHeader:], &p)
	})
	if allocs > 1 { // the message id only
		t.Errorf("decodePush of a repeated address allocates %v times; want ≤ 1", allocs)
	}
}
