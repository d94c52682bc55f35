package httpcodec

import (
	"strconv"
	"testing"
)

// TestLeadingEmptyLine pins which error each shape of empty line before a
// request line gets: one CRLF is skipped, anything more or anything else
// fails at the byte that breaks the rule, however the bytes arrive.
func TestLeadingEmptyLine(t *testing.T) {
	t.Parallel()
	const req = "GET /sub HTTP/1.1\r\nHost: h\r\n\r\n"
	cases := []struct {
		in   string
		want *Error // nil: accepted, Method "GET"
	}{
		{"\r\n" + req, nil},
		{"\r\n\r\n" + req, errMethod},
		{"\r\n\r\n\r\n" + req, errMethod},
		{"\n" + req, errLineEnding},
		{"\r\n\n" + req, errMethod},
		{"\r" + req, errLineEnding},
		{"\r\r\n" + req, errLineEnding},
		{"\r\n " + req, errMethod},
		{"\r\n\t" + req, errMethod},
	}
	for _, tc := range cases {
		for split := 0; split < len(tc.in); split++ {
			p := NewParser(Limits{})
			var n int
			var err error
			if split > 0 {
				n, err = p.Parse([]byte(tc.in[:split]))
			}
			if err == nil && n == 0 {
				n, err = p.Parse([]byte(tc.in))
			}
			if tc.want != nil {
				if err != tc.want {
					t.Fatalf("%q split at %d: Parse = %d, %v; want 0, %v", tc.in, split, n, err, tc.want)
				}
				continue
			}
			if err != nil || n != len(tc.in) || string(p.Request().Method()) != "GET" || string(p.Request().Path()) != "/sub" {
				t.Fatalf("%q split at %d: Parse = %d, %v, method %q; want %d, nil, GET", tc.in, split, n, err, p.Request().Method(), len(tc.in))
			}
		}
	}
}

// TestEmptyLineBetweenPipelined: after a request with a body, one CRLF
// before the next request line is skipped and two are refused, so a client
// that pads its POSTs keeps its connection and nothing else hides there.
func TestEmptyLineBetweenPipelined(t *testing.T) {
	t.Parallel()
	post := "POST /pub/topic/a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	head := "HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n"
	for i, tc := range []struct {
		in      string
		results int
		last    int // status of the last result; 0 = accepted
	}{
		{post + "\r\n" + post + "\r\n" + head, 3, 0},
		{post + "\r\n\r\n" + head, 2, 400},
		{post + "\n" + head, 2, 400},
	} {
		in := []byte(tc.in)
		whole := feed(Limits{}, in, nil)
		if len(whole) != tc.results || whole[len(whole)-1].status != tc.last {
			t.Fatalf("case %d: results %v; want %d, the last with status %d", i, whole, tc.results, tc.last)
		}
		if whole[0].method != "POST" || whole[0].body != "abc" {
			t.Fatalf("case %d: first request %v; want the POST with body abc", i, whole[0])
		}
		if tc.last == 0 && whole[len(whole)-1].method != "HEAD" {
			t.Fatalf("case %d: last request %v; want the HEAD", i, whole[len(whole)-1])
		}
		for split := 1; split < len(in); split++ {
			if got := feed(Limits{}, in, []int{split}); !sameResults(got, whole) {
				t.Fatalf("case %d split at %s: %v; want %v", i, strconv.Itoa(split), got, whole)
			}
		}
		if got := feed(Limits{}, in, onePieces(len(in))); !sameResults(got, whole) {
			t.Fatalf("case %d one byte per read: %v; want %v", i, got, whole)
		}
	}
}

// TestAbsoluteFormSchemes: only http and https (any case) name resources we
// serve; every other well-formed scheme is errTarget, and what the accepted
// ones name is the path after the authority.
func TestAbsoluteFormSchemes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target, path string // path "" = refused
	}{
		{"http://h/sub", "/sub"},
		{"https://h:8443/sub?topic=a", "/sub"},
		{"HtTp://h/healthz", "/healthz"},
		{"HTTPS://h", "/"},
		{"zz://x/sub", ""},
		{"ftp://h/sub", ""},
		{"ws://h/sub", ""},
		{"wss://h/sub", ""},
		{"httpx://h/sub", ""},
		{"http+unix://h/sub", ""},
		{"h://h/sub", ""},
	} {
		in := "GET " + tc.target + " HTTP/1.1\r\nHost: h\r\n\r\n"
		p := NewParser(Limits{})
		n, err := p.Parse([]byte(in))
		if tc.path == "" {
			if err != errTarget {
				t.Errorf("%s: Parse = %d, %v; want 0, %v", tc.target, n, err, errTarget)
			}
			continue
		}
		if err != nil || n != len(in) || string(p.Request().Path()) != tc.path {
			t.Errorf("%s: Parse = %d, %v, path %q; want %d, nil, %q", tc.target, n, err, p.Request().Path(), len(in), tc.path)
		}
	}
}

// TestIdle: a parser that has seen nothing, or only the one empty line a
// request may start with, is idle; one byte of a request line ends that.
func TestIdle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		idle bool
	}{
		{"", true}, {"\r", true}, {"\r\n", true}, {"G", false}, {"\r\nG", false}, {"GET / HTTP/1.1\r\n", false},
	} {
		p := NewParser(Limits{})
		if n, err := p.Parse([]byte(tc.in)); n != 0 || err != nil {
			t.Fatalf("%q: Parse = %d, %v; want 0, nil", tc.in, n, err)
		}
		if p.Idle() != tc.idle {
			t.Errorf("%q: Idle() = %v; want %v", tc.in, p.Idle(), tc.idle)
		}
	}
}
