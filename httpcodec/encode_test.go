package httpcodec

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncoderGolden(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"status 200", AppendStatusLine(nil, 1, 200), "HTTP/1.1 200 OK\r\n"},
		{"status 10", AppendStatusLine(nil, 0, 404), "HTTP/1.0 404 Not Found\r\n"},
		{"status unknown", AppendStatusLine(nil, 1, 599), "HTTP/1.1 599 \r\n"},
		{"header", AppendHeader(nil, "Cache-Control", "no-cache"), "Cache-Control: no-cache\r\n"},
		{"header splitting", AppendHeader(nil, "X", "a\r\nInjected: 1"), "X: a  Injected: 1\r\n"},
		{"header bytes", AppendHeaderBytes(nil, "Push-Conn", []byte("k\n1")), "Push-Conn: k 1\r\n"},
		{"header int", AppendHeaderInt(nil, "Content-Length", -12), "Content-Length: -12\r\n"},
		{"chunk header", AppendChunkHeader(nil, 0x1a2b), "1a2b\r\n"},
		{"chunk header zero", AppendChunkHeader(nil, 0), "0\r\n"},
		{"chunk", AppendChunk([]byte("x"), []byte("hello")), "x5\r\nhello\r\n"},
		{"empty chunk", AppendChunk(nil, nil), ""},
		{"last chunk", AppendLastChunk(nil), "0\r\n\r\n"},
		{"json ascii", AppendJSONString(nil, []byte("hello")), `"hello"`},
		{"json escapes", AppendJSONString(nil, []byte("q\"b\\n\nr\rt\tz\x00\x1f\x7f")), `"q\"b\\n\nr\rt\tz\u0000\u001f` + "\x7f" + `"`},
		{"json html kept", AppendJSONString(nil, []byte("<a>&")), `"<a>&"`},
		{"json utf8", AppendJSONString(nil, []byte("café ✓ 😀")), `"café ✓ 😀"`},
		{"json invalid utf8", AppendJSONString(nil, []byte("a\xffb\xc3(\xed\xa0\x80")), `"a\ufffdb\ufffd(\ufffd\ufffd\ufffd"`},
		{"json line separators", AppendJSONString(nil, []byte("a\u2028b\u2029")), `"a\u2028b\u2029"`},
		{"json empty", AppendJSONString(nil, nil), `""`},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s = %q; want %q", c.name, c.got, c.want)
		}
	}
}

// TestChunkFramingRoundTrip reads our chunks back with net/http's decoder.
func TestChunkFramingRoundTrip(t *testing.T) {
	t.Parallel()
	var stream []byte
	var want strings.Builder
	for _, n := range []int{1, 15, 16, 255, 256, 4096, 70000} {
		data := bytes.Repeat([]byte{'z'}, n)
		stream = AppendChunk(stream, data)
		want.Write(data)
	}
	stream = AppendLastChunk(stream)
	got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(stream)))
	if err != nil || string(got) != want.String() {
		t.Fatalf("chunked read = %d bytes, %v; want %d bytes, nil", len(got), err, want.Len())
	}
}

// TestJSONStringValid checks, over every byte pair and some edge strings,
// that the output is valid JSON that decodes to the input with invalid UTF-8
// replaced, as encoding/json decodes it.
func TestJSONStringValid(t *testing.T) {
	t.Parallel()
	check := func(s []byte) {
		out := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s: invalid JSON: %v", s, out, err)
		}
		if want := replaceInvalid(s); back != want {
			t.Fatalf("AppendJSONString(%q) decodes to %q; want %q", s, back, want)
		}
	}
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			check([]byte{byte(a), byte(b)})
		}
	}
	// Every byte value at every position of a 17-byte run, so each lands
	// in and around the eight-byte fast path.
	for pos := 0; pos < 17; pos++ {
		for c := 0; c < 256; c++ {
			s := []byte("abcdefghijklmnopq")
			s[pos] = byte(c)
			check(s)
		}
	}
	for _, s := range []string{"\xe2\x80\xa8", "\xf0\x9f\x98", "\xf4\x90\x80\x80", "\xed\xbf\xbf", strings.Repeat("é\x00", 100)} {
		check([]byte(s))
	}
}

// replaceInvalid replaces each byte of invalid UTF-8 with U+FFFD, one per byte.
func replaceInvalid(s []byte) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		b.WriteRune(r)
		s = s[size:]
	}
	return b.String()
}

func TestQueryEach(t *testing.T) {
	t.Parallel()
	var got []string
	QueryEach([]byte("topic=news&&user=42&flag&topic=a%20b&=v&k="), func(k, v []byte) bool {
		got = append(got, string(k)+"|"+string(v))
		return true
	})
	want := []string{"topic|news", "user|42", "flag|", "topic|a%20b", "|v", "k|"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("QueryEach pairs = %q; want %q", got, want)
	}
	n := 0
	QueryEach([]byte("a=1&b=2&c=3"), func(k, v []byte) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("QueryEach after fn returned false called fn %d times; want 2", n)
	}
}

func TestAppendUnescape(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"a%20b+c", "a b c", true},
		{"%2F%2f%41", "//A", true},
		{"plain", "plain", true},
		{"", "", true},
		{"bad%", "", false},
		{"bad%4", "", false},
		{"bad%zz", "", false},
	} {
		got, err := AppendUnescape([]byte("pre:"), []byte(c.in))
		if (err == nil) != c.ok || (c.ok && string(got) != "pre:"+c.want) || (!c.ok && string(got) != "pre:") {
			t.Errorf("AppendUnescape(%q) = %q, %v; want %q, ok %v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && err.(*Error).Status != 400 {
			t.Errorf("AppendUnescape(%q) error status = %d; want 400", c.in, err.(*Error).Status)
		}
	}
}
