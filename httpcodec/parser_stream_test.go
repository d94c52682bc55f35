package httpcodec

import (
	"math/rand/v2"
	"strings"
	"testing"
)

const pipelined = "GET /sub?topic=a HTTP/1.1\r\nHost: h\r\n\r\n" +
	"POST /pub/topic/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
	"POST /pub/topic/b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1;x=y\r\nf\r\n0\r\nT: 1\r\n\r\n" +
	"GET /last HTTP/1.0\r\n\r\n"

func TestPipelined(t *testing.T) {
	t.Parallel()
	in := []byte(pipelined)
	whole := feed(Limits{}, in, nil)
	want := []struct{ target, body string }{{"/sub?topic=a", ""}, {"/pub/topic/a", "abc"}, {"/pub/topic/b", "def"}, {"/last", ""}}
	if len(whole) != len(want) {
		t.Fatalf("feed gave %d results %v; want %d requests", len(whole), whole, len(want))
	}
	total := 0
	for i, w := range want {
		if whole[i].target != w.target || whole[i].body != w.body {
			t.Errorf("request %d = %q body %q; want %q body %q", i, whole[i].target, whole[i].body, w.target, w.body)
		}
		total += whole[i].n
	}
	if total != len(in) {
		t.Errorf("sum of n = %d; want %d", total, len(in))
	}
	if whole[3].keepAlive {
		t.Errorf("HTTP/1.0 request KeepAlive() = true; want false")
	}
	for i := 1; i < len(in); i++ {
		if got := feed(Limits{}, in, []int{i}); !sameResults(got, whole) {
			t.Fatalf("split at %d: %v; want %v", i, got, whole)
		}
	}
	if got := feed(Limits{}, in, onePieces(len(in))); !sameResults(got, whole) {
		t.Fatalf("one byte per read: %v; want %v", got, whole)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		if got := feed(Limits{}, in, randomPieces(r, len(in))); !sameResults(got, whole) {
			t.Fatalf("random pieces: %v; want %v", got, whole)
		}
	}
}

// TestParseDoesNotRescan overwrites bytes the parser has already consumed
// with bytes that are invalid anywhere in a head: if Parse went back over
// them it would fail.
func TestParseDoesNotRescan(t *testing.T) {
	t.Parallel()
	in := "POST /pub HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	for cut := 1; cut < len(in); cut++ {
		p := NewParser(Limits{})
		buf := []byte(in[:cut])
		if n, err := p.Parse(buf); n != 0 || err != nil {
			t.Fatalf("cut %d: Parse = %d, %v; want 0, nil", cut, n, err)
		}
		scanned := min(int(p.pos), int(p.req.bodyStart))
		if p.state < stBodyCL {
			scanned = int(p.mark)
			if p.state <= stLineLF {
				scanned = 0
			}
		}
		for i := 0; i < scanned; i++ {
			buf[i] = 0
		}
		buf = append(buf, in[cut:]...)
		if n, err := p.Parse(buf); n != len(in) || err != nil {
			t.Fatalf("cut %d (zeroed %d bytes): Parse = %d, %v; want %d, nil", cut, scanned, n, err, len(in))
		}
	}
}

func TestHeadCompleteForExpectContinue(t *testing.T) {
	t.Parallel()
	head := "POST /pub HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
	p := NewParser(Limits{})
	buf := []byte(head[:len(head)-1])
	if n, err := p.Parse(buf); n != 0 || err != nil || p.HeadComplete() {
		t.Fatalf("Parse(head minus one byte) = %d, %v, HeadComplete %v; want 0, nil, false", n, err, p.HeadComplete())
	}
	buf = append(buf, '\n')
	if n, err := p.Parse(buf); n != 0 || err != nil || !p.HeadComplete() {
		t.Fatalf("Parse(head) = %d, %v, HeadComplete %v; want 0, nil, true", n, err, p.HeadComplete())
	}
	if !p.Request().ExpectContinue() || string(p.Request().Header("content-length")) != "4" {
		t.Fatalf("head views: ExpectContinue %v, Content-Length %q; want true, 4", p.Request().ExpectContinue(), p.Request().Header("content-length"))
	}
	buf = append(buf, "data"...)
	if n, err := p.Parse(buf); n != len(buf) || err != nil || p.HeadComplete() {
		t.Fatalf("Parse(whole) = %d, %v, HeadComplete %v; want %d, nil, false", n, err, p.HeadComplete(), len(buf))
	}
}

func TestErrorIsSticky(t *testing.T) {
	t.Parallel()
	p := NewParser(Limits{})
	_, err1 := p.Parse([]byte("GET / HTTP/1.1\r\nHost : h\r\n"))
	_, err2 := p.Parse([]byte("GET / HTTP/1.1\r\nHost : h\r\n\r\n"))
	if err1 == nil || err1 != err2 {
		t.Fatalf("Parse errors = %v then %v; want the same error twice", err1, err2)
	}
	p.Reset(Limits{})
	if n, err := p.Parse([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")); n == 0 || err != nil {
		t.Fatalf("after Reset, Parse = %d, %v; want n > 0, nil", n, err)
	}
}

func TestHeaderLookup(t *testing.T) {
	t.Parallel()
	p := NewParser(Limits{})
	in := "GET / HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-dup: 2\r\nAccept:  text/event-stream \r\nX-Empty:\r\n\r\n"
	if n, err := p.Parse([]byte(in)); n != len(in) || err != nil {
		t.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(in))
	}
	r := p.Request()
	for _, c := range []struct{ name, want string }{
		{"X-Dup", "1"}, {"x-dup", "1"}, {"ACCEPT", "text/event-stream"}, {"host", "h"},
	} {
		if got := string(r.Header(c.name)); got != c.want {
			t.Errorf("Header(%q) = %q; want %q", c.name, got, c.want)
		}
	}
	if v := r.Header("X-Empty"); v == nil || len(v) != 0 {
		t.Errorf("Header(X-Empty) = %#v; want empty, non-nil", v)
	}
	if v := r.Header("X-Missing"); v != nil {
		t.Errorf("Header(X-Missing) = %q; want nil", v)
	}
	if v := r.Header("X-Du"); v != nil {
		t.Errorf("Header(X-Du) = %q; want nil (prefix of a name)", v)
	}
	if r.NumHeaders() != 5 {
		t.Errorf("NumHeaders() = %d; want 5", r.NumHeaders())
	}
	if name, value := r.HeaderAt(2); string(name) != "x-dup" || string(value) != "2" {
		t.Errorf("HeaderAt(2) = %q, %q; want x-dup, 2", name, value)
	}
}

func TestLargeChunkedBodyInPlace(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
	var want strings.Builder
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		data := strings.Repeat(string(rune('a'+i%26)), 1+r.IntN(900))
		want.WriteString(data)
		b.WriteString(strings.ToUpper(string(AppendChunkHeader(nil, len(data)))))
		b.WriteString(data + "\r\n")
	}
	b.WriteString("0\r\n\r\n")
	in := []byte(b.String())
	lim := Limits{MaxBody: 1 << 20}
	got := feed(lim, in, randomPieces(r, len(in)))
	if len(got) != 1 || got[0].body != want.String() || got[0].n != len(in) {
		t.Fatalf("feed = %d results, first n %d, body length %d; want 1, %d, %d", len(got), got[0].n, len(got[0].body), len(in), want.Len())
	}
}
