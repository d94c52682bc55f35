package header

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// FuzzBlock: arbitrary fields (name NUL value NUL ...) given to a Block as the HPACK decoder
// gives them. A block never holds more than its limit, and one it does not call Malformed
// has lowercase token names, values without NUL, CR, LF or edge whitespace, a :method and,
// unless CONNECT, a :scheme and a non-empty :path (RFC 9113 §8.2-8.3; the pseudo-headers'
// own syntax is the caller's to judge).
func FuzzBlock(f *testing.F) {
	f.Add([]byte(":method\x00GET\x00:scheme\x00https\x00:path\x00/sub?topic=a\x00cookie\x00a=1\x00"))
	f.Add([]byte(":method\x00CONNECT\x00:authority\x00a:443\x00"))
	f.Add([]byte(":method\x00GET\x00Accept\x00x\x00:path\x00/\x00"))
	f.Add([]byte(":method\x00POST\x00:scheme\x00http\x00:path\x00/p\x00content-length\x0012\x00te\x00trailers\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 256
		b := NewBlock()
		b.Reset(max)
		emit := b.EmitFunc()
		parts := bytes.Split(in, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			emit(hpack.HeaderField{Name: string(parts[i]), Value: string(parts[i+1])})
		}
		if b.Held() > 2*max {
			t.Fatalf("block holds %d bytes; limit %d", b.Held(), max)
		}
		if b.Over() || b.Malformed() {
			return
		}
		r := b.Request()
		if r.Method() == nil || string(r.Method()) != "CONNECT" && (r.Scheme() == nil || len(r.Target()) == 0) {
			t.Fatalf("well-formed without its pseudo-headers: %q %q %q", r.Method(), r.Scheme(), r.Target())
		}
		for i := range r.NumHeaders() {
			name, value := r.HeaderAt(i)
			if !validName(string(name)) || !validValue(string(value)) || bytes.ContainsAny(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("well-formed with field %q: %q", name, value)
			}
			if v := r.Header(string(name)); v == nil {
				t.Fatalf("Header(%q) = nil for a field the block holds", name)
			}
		}
	})
}
