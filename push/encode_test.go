package push

import (
	"bytes"
	"io"
	"mime/multipart"
	"testing"
)

func TestEncoderGolden(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"sse retry", AppendSSERetry(nil, 3000), "retry: 3000\n\n"},
		{"sse comment", AppendSSEComment(nil, []byte("hb 1700000000000")), ": hb 1700000000000\n\n"},
		{"sse comment lines", AppendSSEComment(nil, []byte("a\nb")), ": a\n: b\n\n"},
		{"sse event", AppendSSEEvent(nil, []byte("42"), []byte("message"), []byte(`{"a":1}`)),
			"id: 42\nevent: message\ndata: {\"a\":1}\n\n"},
		{"sse no id no event", AppendSSEEvent(nil, nil, nil, []byte("x")), "data: x\n\n"},
		{"sse empty data", AppendSSEEvent(nil, nil, []byte("e"), nil), "event: e\ndata: \n\n"},
		{"sse multi-line", AppendSSEEvent(nil, []byte("7"), nil, []byte("one\r\ntwo\rthree\nfour\n")),
			"id: 7\ndata: one\ndata: two\ndata: three\ndata: four\ndata: \n\n"},
		{"sse cr lf pairs", AppendSSEEvent(nil, nil, nil, []byte("\r\n\r\n")), "data: \ndata: \ndata: \n\n"},
		{"sse lf cr", AppendSSEEvent(nil, nil, nil, []byte("a\n\rb")), "data: a\ndata: \ndata: b\n\n"},
		{"sse newline in id", AppendSSEEvent(nil, []byte("1\r\n2"), []byte("e\nv"), []byte("d")), "id: 12\nevent: ev\ndata: d\n\n"},
		{"multipart", AppendMultipartPart(nil, []byte("b0undary"), PartFields{ContentType: []byte("application/json"), PushID: []byte("m-1")}, []byte(`{"x":1}`)),
			"--b0undary\r\nContent-Type: application/json\r\nPush-Id: m-1\r\n\r\n{\"x\":1}\r\n"},
		{"multipart bare", AppendMultipartPart(nil, []byte("b"), PartFields{}, []byte("x")), "--b\r\n\r\nx\r\n"},
		{"multipart event", AppendMultipartPart(nil, []byte("b0undary"), PartFields{ContentType: []byte("text/plain"), PushID: []byte("7"), PushEvent: []byte("chat\r\nX-Forged: 1")}, []byte("hi")),
			"--b0undary\r\nContent-Type: text/plain\r\nPush-Id: 7\r\nPush-Event: chat  X-Forged: 1\r\n\r\nhi\r\n"},
		{"multipart boundary without dashes", AppendMultipartPart(nil, []byte("b0undary"), PartFields{}, []byte("b0undary -b0undary\r\n-b0undary")),
			"--b0undary\r\n\r\nb0undary -b0undary\r\n-b0undary\r\n"},
		{"multipart delimiter in body", AppendMultipartPart(nil, []byte("b0undary"), PartFields{PushID: []byte("1")}, []byte("a = b\r\n--b0undary\r\nPush-Id: 666\r\n\r\nx\t\xff")),
			"--b0undary\r\nPush-Id: 1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"a=20=3D=20b=0D=0A=2D=2Db0undary=0D=0APush=2DId:=20666=0D=0A=0D=0Ax=09=FF\r\n"},
		{"multipart close", AppendMultipartClose(nil, []byte("b0undary")), "--b0undary--\r\n"},
		{"ndjson", AppendNDJSON([]byte("{}\n"), []byte(`{"a":1}`)), "{}\n{\"a\":1}\n"},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
}

// TestMultipartRoundTrip reads our parts back with mime/multipart.
func TestMultipartRoundTrip(t *testing.T) {
	t.Parallel()
	boundary := []byte("pushwire-7f3a")
	bodies := []string{`{"a":1}`, "two\r\nlines", ""}
	var stream []byte
	for i, body := range bodies {
		stream = AppendMultipartPart(stream, boundary, PartFields{ContentType: []byte("text/plain"), PushID: []byte{'0' + byte(i)}}, []byte(body))
	}
	stream = AppendMultipartClose(stream, boundary)
	r := multipart.NewReader(bytes.NewReader(stream), string(boundary))
	for i, want := range bodies {
		part, err := r.NextPart()
		if err != nil {
			t.Fatalf("NextPart %d: %v", i, err)
		}
		got, _ := io.ReadAll(part)
		if string(got) != want || part.Header.Get("Push-Id") != string(rune('0'+i)) || part.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("part %d = %q, headers %v; want %q", i, got, part.Header, want)
		}
	}
	if _, err := r.NextPart(); err != io.EOF {
		t.Errorf("NextPart after close = %v; want io.EOF", err)
	}
}
