package header

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// decode runs block through x/net's decoder and returns its fields as "name: value".
func decode(t *testing.T, block []byte) []string {
	t.Helper()
	var got []string
	d := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		got = append(got, f.Name+": "+f.Value)
	})
	if _, err := d.Write(block); err != nil {
		t.Fatalf("x/net decoder: %v on % x", err, block)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("x/net decoder Close: %v", err)
	}
	return got
}

// TestEncodeDecodes: what AppendStatus and AppendField write is what x/net's decoder reads,
// with names lowercased and connection-specific fields dropped.
func TestEncodeDecodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		fields [][2]string
		want   []string
	}{
		{200, [][2]string{{"content-type", "text/event-stream"}, {"Cache-Control", "no-cache"}},
			[]string{":status: 200", "content-type: text/event-stream", "cache-control: no-cache"}},
		{404, nil, []string{":status: 404"}},
		{299, [][2]string{{"x-custom", strings.Repeat("v", 300)}},
			[]string{":status: 299", "x-custom: " + strings.Repeat("v", 300)}},
		{42, [][2]string{{"Connection", "close"}, {"Keep-Alive", "x"}, {"Transfer-Encoding", "chunked"},
			{"upgrade", "h2c"}, {"proxy-connection", "x"}, {"connection", "close"}, {"vary", "origin"}},
			[]string{":status: 500", "vary: origin"}},
	} {
		b := append([]byte{TableSizeZero}, AppendStatus(nil, tc.status)...)
		for _, f := range tc.fields {
			b = AppendField(b, f[0], f[1])
		}
		if got := decode(t, b); !slices.Equal(got, tc.want) {
			t.Errorf("status %d, fields %q: decoded %q; want %q", tc.status, tc.fields, got, tc.want)
		}
	}
}

// emitAll gives fields to a fresh block with limit max, as the HPACK decoder does.
func emitAll(max uint32, fields ...string) *Block {
	b := NewBlock()
	b.Reset(max)
	emit := b.EmitFunc()
	for i := 0; i+1 < len(fields); i += 2 {
		emit(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return b
}

// TestBlock: a block's verdict on a request's fields (RFC 9113 §8.2-8.3) and its views.
func TestBlock(t *testing.T) {
	req := []string{":method", "GET", ":scheme", "https", ":path", "/sub?topic=a"}
	for _, tc := range []struct {
		name      string
		fields    []string
		malformed bool
		clen      int64
	}{
		{"plain GET", req, false, -1},
		{"with content-length", append(slices.Clone(req), "content-length", "12"), false, 12},
		{"two equal content-lengths", append(slices.Clone(req), "content-length", "3", "content-length", "3"), false, 3},
		{"two different content-lengths", append(slices.Clone(req), "content-length", "3", "content-length", "4"), true, 4},
		{"bad content-length", append(slices.Clone(req), "content-length", "1x"), true, -1},
		{"uppercase name", append(slices.Clone(req), "Accept", "x"), true, -1},
		{"connection-specific", append(slices.Clone(req), "connection", "close"), true, -1},
		{"te other than trailers", append(slices.Clone(req), "te", "gzip"), true, -1},
		{"te trailers", append(slices.Clone(req), "te", "trailers"), false, -1},
		{"value with CR", append(slices.Clone(req), "x", "a\rb"), true, -1},
		{"value with leading space", append(slices.Clone(req), "x", " a"), true, -1},
		{"pseudo after regular", []string{":method", "GET", "a", "b", ":scheme", "http", ":path", "/"}, true, -1},
		{"pseudo twice", append(slices.Clone(req), ":path", "/x"), true, -1},
		{"response pseudo", append([]string{":status", "200"}, req...), true, -1},
		{"no path", []string{":method", "GET", ":scheme", "http"}, true, -1},
		{"empty path", []string{":method", "GET", ":scheme", "http", ":path", ""}, true, -1},
		{"CONNECT", []string{":method", "CONNECT", ":authority", "a:443"}, false, -1},
		{"CONNECT with path", []string{":method", "CONNECT", ":authority", "a:443", ":path", "/"}, true, -1},
	} {
		b := emitAll(1024, tc.fields...)
		if b.Malformed() != tc.malformed || b.ContentLength() != tc.clen || b.Over() {
			t.Errorf("%s: Malformed = %v, ContentLength = %d, Over = %v; want %v, %d, false",
				tc.name, b.Malformed(), b.ContentLength(), b.Over(), tc.malformed, tc.clen)
		}
	}
	b := emitAll(1024, append(slices.Clone(req), ":authority", "example.com", "cookie", "a=1", "Accept", "x")...)
	r := b.Request()
	got := fmt.Sprintf("%s %s %s %s %s %q %d %s", r.Method(), r.Scheme(), r.Authority(), r.Path(), r.Query(),
		r.Header("COOKIE"), r.NumHeaders(), r.Header("missing"))
	if want := `GET https example.com /sub topic=a "a=1" 2 `; got != want {
		t.Fatalf("views = %s; want %s", got, want)
	}
}

// TestBlockLimit: past its limit a block keeps nothing more and says so; Reset starts over
// with the buffer it kept.
func TestBlockLimit(t *testing.T) {
	b := emitAll(200, ":method", "GET", ":scheme", "http", ":path", "/", "x", strings.Repeat("a", 300))
	if !b.Over() || b.Held() > 200 {
		t.Fatalf("over the limit: Over = %v, Held = %d; want true, at most 200", b.Over(), b.Held())
	}
	held := b.Held()
	b.Reset(200)
	if b.Over() || b.Held() != held || b.Request().NumHeaders() != 0 || b.Request().Method() != nil {
		t.Fatalf("after Reset: Over = %v, Held = %d (was %d), %d headers", b.Over(), b.Held(), held, b.Request().NumHeaders())
	}
}
