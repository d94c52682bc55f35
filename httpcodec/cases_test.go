package httpcodec

import (
	"fmt"
	"strings"
)

// parseCase is one request and what Parse must make of it. For accepted
// requests the zero values of path, query and n mean "same as target",
// "none" and "the whole input".
type parseCase struct {
	name       string
	lim        Limits
	in         string
	status     int  // 0 = accepted
	incomplete bool // Parse must still be waiting for bytes
	method     string
	target     string
	path       string
	query      string
	host       string
	headers    string // exact "name: value\n" list when non-empty
	body       string
	minor      int
	closes     bool // KeepAlive() is false
	expect     bool
	n          int
}

const (
	h11 = " HTTP/1.1\r\nHost: example.com\r\n"
	ua  = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36\r\n"
)

func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
	}
	return b.String()
}

var parseCases = []parseCase{
	// Well-formed.
	{name: "get", in: "GET /" + h11 + "\r\n", method: "GET", target: "/", host: "example.com", headers: "Host: example.com\n"},
	{name: "subscribe", in: "GET /sub?topic=news&user=42" + h11 + ua + "Accept: text/event-stream\r\nAccept-Language: en-US,en;q=0.9\r\nCache-Control: no-cache\r\nCookie: sid=abc\r\n\r\n",
		method: "GET", target: "/sub?topic=news&user=42", path: "/sub", query: "topic=news&user=42", host: "example.com"},
	{name: "http10 no host", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", closes: true},
	{name: "http10 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: "GET", target: "/"},
	{name: "http10 with host", in: "GET /x HTTP/1.0\r\nHost: a\r\n\r\n", method: "GET", target: "/x", host: "a", closes: true},
	{name: "connection close", in: "GET /" + h11 + "Connection: close\r\n\r\n", method: "GET", target: "/", host: "example.com", minor: 1, closes: true},
	{name: "connection list", in: "GET /" + h11 + "Connection: upgrade, CLOSE\r\n\r\n", method: "GET", target: "/", closes: true},
	{name: "connection keep-alive 11", in: "GET /" + h11 + "Connection: keep-alive\r\n\r\n", method: "GET", target: "/"},
	{name: "content-length body", in: "POST /pub/topic/news" + h11 + "Content-Length: 5\r\n\r\nhello", method: "POST", target: "/pub/topic/news", body: "hello"},
	{name: "content-length zero", in: "POST /p" + h11 + "Content-Length: 0\r\n\r\n", method: "POST", target: "/p"},
	{name: "content-length leading zeros", in: "POST /p" + h11 + "Content-Length: 003\r\n\r\nabc", method: "POST", target: "/p", body: "abc"},
	{name: "content-length ows", in: "POST /p" + h11 + "Content-Length: \t2 \r\n\r\nab", method: "POST", target: "/p", body: "ab"},
	{name: "chunked", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", method: "POST", target: "/p", body: "hello world"},
	{name: "chunked mixed case", in: "POST /p" + h11 + "Transfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", method: "POST", target: "/p", body: "0123456789"},
	// A chunk longer than the chunk-line limit: the limit bounds the framing
	// lines, not the data between them.
	{name: "chunked big chunks", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n1388\r\n" + strings.Repeat("a", 5000) + "\r\n1388\r\n" + strings.Repeat("b", 5000) + "\r\n0\r\n\r\n", method: "POST", target: "/p", body: strings.Repeat("a", 5000) + strings.Repeat("b", 5000)},
	{name: "chunked leading zeros", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0003\r\nabc\r\n000\r\n\r\n", method: "POST", target: "/p", body: "abc"},
	{name: "chunked extensions", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n3;a=b;c\r\nabc\r\n2; q = \"x\\\"y; z\" ;k\r\nde\r\n0;last\r\n\r\n", method: "POST", target: "/p", body: "abcde"},
	{name: "chunked trailers", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-Sum: 1\r\nX-Other:\r\n\r\n", method: "POST", target: "/p", body: "ab"},
	{name: "chunked one-byte chunks", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1\r\nx\r\n", 40) + "0\r\n\r\n", method: "POST", target: "/p", body: strings.Repeat("x", 40)},
	{name: "chunked binary data", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n4\r\n\r\n\x00\xff\r\n0\r\n\r\n", method: "POST", target: "/p", body: "\r\n\x00\xff"},
	{name: "chunked empty", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", method: "POST", target: "/p"},
	{name: "expect continue", in: "POST /p" + h11 + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok", method: "POST", target: "/p", body: "ok", expect: true},
	{name: "absolute form", in: "GET http://example.com:8080/a/b?c=d" + h11 + "\r\n", method: "GET", target: "http://example.com:8080/a/b?c=d", path: "/a/b", query: "c=d"},
	{name: "absolute form no path", in: "GET https://example.com" + h11 + "\r\n", method: "GET", target: "https://example.com", path: "/"},
	{name: "absolute form query only", in: "GET http://example.com?x=1" + h11 + "\r\n", method: "GET", target: "http://example.com?x=1", path: "/", query: "x=1"},
	{name: "absolute form ipv6", in: "GET http://[::1]:80/x" + h11 + "\r\n", method: "GET", target: "http://[::1]:80/x", path: "/x"},
	{name: "options asterisk", in: "OPTIONS *" + h11 + "\r\n", method: "OPTIONS", target: "*"},
	{name: "connect authority", in: "CONNECT example.com:443" + h11 + "\r\n", method: "CONNECT", target: "example.com:443"},
	{name: "percent escapes", in: "GET /a%20b?x=%2F%2f" + h11 + "\r\n", method: "GET", target: "/a%20b?x=%2F%2f", path: "/a%20b", query: "x=%2F%2f"},
	{name: "empty query", in: "GET /?" + h11 + "\r\n", method: "GET", target: "/?", path: "/"},
	{name: "extension method", in: "M-SEARCH /" + h11 + "\r\n", method: "M-SEARCH", target: "/"},
	{name: "obs-text value", in: "GET /" + h11 + "X-Name: caf\xc3\xa9 \xff\r\n\r\n", method: "GET", target: "/", headers: "Host: example.com\nX-Name: caf\xc3\xa9 \xff\n"},
	{name: "ows and empty values", in: "GET / HTTP/1.1\r\nHost:example.com\r\nX-A:   spaced  \t\r\nX-B:\r\nX-C: \t \r\n\r\n", method: "GET", target: "/",
		headers: "Host: example.com\nX-A: spaced\nX-B: \nX-C: \n"},
	{name: "tab inside value", in: "GET /" + h11 + "X-T: a\tb\r\n\r\n", method: "GET", target: "/", headers: "Host: example.com\nX-T: a\tb\n"},
	{name: "64 headers", in: "GET / HTTP/1.1\r\nHost: h\r\n" + manyHeaders(63) + "\r\n", method: "GET", target: "/"},
	{name: "http12 served as 11", in: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", method: "GET", target: "/", minor: 1},
	{name: "empty host value", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", method: "GET", target: "/"},
	{name: "host with port", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", method: "GET", target: "/", host: "[::1]:8080"},
	{name: "leading crlf", in: "\r\nGET /sub?topic=a" + h11 + "\r\n", method: "GET", target: "/sub?topic=a", path: "/sub", query: "topic=a", host: "example.com"},
	{name: "leading crlf http10", in: "\r\nGET /x HTTP/1.0\r\n\r\n", method: "GET", target: "/x", closes: true},
	{name: "leading crlf post", in: "\r\nPOST /pub/topic/a" + h11 + "Content-Length: 3\r\n\r\nabc", method: "POST", target: "/pub/topic/a", body: "abc"},
	{name: "leading crlf head at limit", lim: Limits{MaxHeaderBytes: 39}, in: "\r\nGET /" + h11 + "\r\n", method: "GET", target: "/"},
	{name: "crlf after post body", in: "POST /p" + h11 + "Content-Length: 1\r\n\r\nx\r\nGET /" + h11 + "\r\n", method: "POST", target: "/p", body: "x",
		n: len("POST /p" + h11 + "Content-Length: 1\r\n\r\nx")},
	{name: "head", in: "HEAD /healthz" + h11 + "\r\n", method: "HEAD", target: "/healthz", host: "example.com"},
	{name: "head subscribe", in: "HEAD /sub?topic=a&format=multipart" + h11 + "\r\n", method: "HEAD", target: "/sub?topic=a&format=multipart", path: "/sub", query: "topic=a&format=multipart"},
	{name: "head http10", in: "HEAD /stats HTTP/1.0\r\n\r\n", method: "HEAD", target: "/stats", closes: true},
	{name: "head leading crlf", in: "\r\nHEAD /readyz" + h11 + "\r\n", method: "HEAD", target: "/readyz"},
	{name: "head absolute form", in: "HEAD http://example.com/healthz" + h11 + "\r\n", method: "HEAD", target: "http://example.com/healthz", path: "/healthz"},
	{name: "head pipelined", in: "HEAD /a" + h11 + "\r\nGET /b" + h11 + "\r\n", method: "HEAD", target: "/a", n: len("HEAD /a" + h11 + "\r\n")},
	{name: "absolute form upper-case scheme", in: "GET HTTP://example.com/sub" + h11 + "\r\n", method: "GET", target: "HTTP://example.com/sub", path: "/sub"},
	{name: "absolute form https path", in: "GET https://example.com:443/sub?topic=a" + h11 + "\r\n", method: "GET", target: "https://example.com:443/sub?topic=a", path: "/sub", query: "topic=a"},
	{name: "pipelined prefix", in: "GET /a" + h11 + "\r\nGET /b" + h11 + "\r\n", method: "GET", target: "/a", n: len("GET /a" + h11 + "\r\n")},

	// Incomplete.
	{name: "partial head", in: "GET /" + h11, incomplete: true},
	{name: "partial body", in: "POST /p" + h11 + "Content-Length: 10\r\n\r\nhello", incomplete: true},
	{name: "partial chunked", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", incomplete: true},
	{name: "partial trailer", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", incomplete: true},

	// Framing: Content-Length and Transfer-Encoding.
	{name: "cl then te", in: "POST /p" + h11 + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te then cl", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", status: 400},
	{name: "cl repeated equal", in: "POST /p" + h11 + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", status: 400},
	{name: "cl repeated differ", in: "POST /p" + h11 + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400},
	{name: "cl list", in: "POST /p" + h11 + "Content-Length: 3, 3\r\n\r\nabc", status: 400},
	{name: "cl plus sign", in: "POST /p" + h11 + "Content-Length: +3\r\n\r\nabc", status: 400},
	{name: "cl minus sign", in: "POST /p" + h11 + "Content-Length: -3\r\n\r\nabc", status: 400},
	{name: "cl hex", in: "POST /p" + h11 + "Content-Length: 0x3\r\n\r\nabc", status: 400},
	{name: "cl empty", in: "POST /p" + h11 + "Content-Length:\r\n\r\n", status: 400},
	{name: "cl inner space", in: "POST /p" + h11 + "Content-Length: 1 2\r\n\r\n", status: 400},
	{name: "cl overflow", in: "POST /p" + h11 + "Content-Length: 99999999999999999999\r\n\r\n", status: 400},
	{name: "cl too large", in: "POST /p" + h11 + "Content-Length: 1048577\r\n\r\n", status: 413},
	{name: "cl over small limit", lim: Limits{MaxBody: 4}, in: "POST /p" + h11 + "Content-Length: 5\r\n\r\nhello", status: 413},
	{name: "te gzip", in: "POST /p" + h11 + "Transfer-Encoding: gzip\r\n\r\n", status: 501},
	{name: "te gzip chunked", in: "POST /p" + h11 + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501},
	{name: "te unknown", in: "POST /p" + h11 + "Transfer-Encoding: foo\r\n\r\n", status: 501},
	{name: "te chunked twice", in: "POST /p" + h11 + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te chunked two fields", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te chunked not last", in: "POST /p" + h11 + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te empty", in: "POST /p" + h11 + "Transfer-Encoding:\r\n\r\n", status: 400},
	{name: "te empty element", in: "POST /p" + h11 + "Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te with parameter", in: "POST /p" + h11 + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", status: 400},
	{name: "te on http10", in: "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},

	// Line endings and field syntax.
	{name: "obs-fold", in: "GET /" + h11 + "X-A: a\r\n b\r\n\r\n", status: 400},
	{name: "leading whitespace first field", in: "GET / HTTP/1.1\r\n Host: h\r\n\r\n", status: 400},
	{name: "bare cr in value", in: "GET /" + h11 + "X-A: a\rb\r\n\r\n", status: 400},
	{name: "bare cr line end", in: "GET /" + h11 + "X-A: a\r\r\n\r\n", status: 400},
	{name: "bare lf field", in: "GET /" + h11 + "X-A: a\n\r\n", status: 400},
	{name: "bare lf request line", in: "GET / HTTP/1.1\nHost: h\r\n\r\n", status: 400},
	{name: "bare lf head end", in: "GET /" + h11 + "\n", status: 400},
	{name: "cr without lf at head end", in: "GET /" + h11 + "\rX", status: 400},
	{name: "nul in value", in: "GET /" + h11 + "X-A: a\x00b\r\n\r\n", status: 400},
	{name: "control in value", in: "GET /" + h11 + "X-A: a\x01b\r\n\r\n", status: 400},
	{name: "del in value", in: "GET /" + h11 + "X-A: a\x7fb\r\n\r\n", status: 400},
	{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400},
	{name: "tab before colon", in: "GET /" + h11 + "X-A\t: b\r\n\r\n", status: 400},
	{name: "bad name byte", in: "GET /" + h11 + "X(A): b\r\n\r\n", status: 400},
	{name: "empty name", in: "GET /" + h11 + ": b\r\n\r\n", status: 400},
	{name: "name without colon", in: "GET /" + h11 + "X-A\r\n\r\n", status: 400},
	{name: "non-ascii name", in: "GET /" + h11 + "X-\xc3\xa9: b\r\n\r\n", status: 400},

	// Host.
	{name: "missing host", in: "GET / HTTP/1.1\r\n\r\n", status: 400},
	{name: "repeated host", in: "GET /" + h11 + "Host: example.com\r\n\r\n", status: 400},
	{name: "bad host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400},
	{name: "host with slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: 400},

	// Request line.
	{name: "http2 version", in: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505},
	{name: "http3 version", in: "GET / HTTP/3.0\r\nHost: h\r\n\r\n", status: 505},
	{name: "http09 version", in: "GET / HTTP/0.9\r\n\r\n", status: 505},
	{name: "lowercase version", in: "GET / http/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "short version", in: "GET / HTTP/1\r\nHost: h\r\n\r\n", status: 400},
	{name: "long version", in: "GET / HTTP/1.10\r\nHost: h\r\n\r\n", status: 400},
	{name: "garbage version", in: "GET / HTTQ/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "missing version", in: "GET /\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading space", in: " GET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "two leading crlf", in: "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading bare lf", in: "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading crlf then bare lf", in: "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading lone cr", in: "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading cr cr lf", in: "\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "leading crlf space", in: "\r\n GET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "crlf between pipelined twice", in: "POST /p" + h11 + "Content-Length: 1\r\n\r\nx\r\n\r\nGET /" + h11 + "\r\n", method: "POST", target: "/p", body: "x",
		n: len("POST /p" + h11 + "Content-Length: 1\r\n\r\nx")},
	{name: "leading crlf over line limit", lim: Limits{MaxRequestLine: 17}, in: "\r\nGET /abc HTTP/1.1\r\nHost: h\r\n\r\n", status: 414},
	{name: "absolute other scheme", in: "GET zz://x/sub HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute ftp scheme", in: "GET ftp://example.com/sub HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute https-like scheme", in: "GET httpss://example.com/sub HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute http prefix scheme", in: "GET htt://example.com/sub HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute ws scheme", in: "GET ws://example.com/sub HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute other scheme on head", in: "HEAD zz://x/healthz HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "bad method byte", in: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "double space", in: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "space after target", in: "GET / x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "control in target", in: "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "non-ascii target", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "fragment in target", in: "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "bad percent", in: "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "short percent", in: "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "asterisk on get", in: "GET * HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "relative target", in: "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute empty host", in: "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute userinfo", in: "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute ipv4 literal", in: "GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute bad ipv6", in: "GET http://[1::2::3]/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "absolute bad port", in: "GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},

	// Limits.
	{name: "request line too long", lim: Limits{MaxRequestLine: 32}, in: "GET /" + strings.Repeat("a", 40) + h11 + "\r\n", status: 414},
	{name: "request line at limit", lim: Limits{MaxRequestLine: 17}, in: "GET /abc HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", target: "/abc"},
	{name: "default request line limit", in: "GET /" + strings.Repeat("a", 8200) + h11 + "\r\n", status: 414},
	{name: "head too large", lim: Limits{MaxHeaderBytes: 64}, in: "GET /" + h11 + "X-Long: " + strings.Repeat("v", 64) + "\r\n\r\n", status: 431},
	{name: "head at limit", lim: Limits{MaxHeaderBytes: 37}, in: "GET /" + h11 + "\r\n", method: "GET", target: "/"},
	{name: "too many headers", in: "GET / HTTP/1.1\r\nHost: h\r\n" + manyHeaders(64) + "\r\n", status: 431},
	{name: "too many headers small limit", lim: Limits{MaxHeaders: 2}, in: "GET /" + h11 + "A: 1\r\nB: 2\r\n\r\n", status: 431},

	// Chunked framing.
	{name: "chunk size overflow", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", status: 400},
	{name: "chunk size 17 digits", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n", status: 400},
	{name: "chunk size garbage", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", status: 400},
	{name: "chunk size missing", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n;a\r\n", status: 400},
	{name: "chunk size sign", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n-1\r\n", status: 400},
	{name: "chunk size 0x", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk size trailing space", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk size space ext", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5 ;a\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext empty name", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext space in name", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext bad value", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a=(\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext empty value", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext ctl in quoted", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk ext bytes after quoted", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk bare lf size", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", status: 400},
	{name: "chunk data no crlf", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", status: 400},
	{name: "chunk data bare lf", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", status: 400},
	{name: "chunk too large", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n100001\r\n", status: 413},
	{name: "chunks sum too large", lim: Limits{MaxBody: 8}, in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", status: 413},
	{name: "chunk line too long", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n1;a=" + strings.Repeat("b", 5000) + "\r\nx\r\n0\r\n\r\n", status: 400},
	{name: "chunk framing excess", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 200)+"\r\nx\r\n", 100) + "0\r\n\r\n", status: 400},
	{name: "trailer obs-fold", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", status: 400},
	{name: "trailer bad name", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX A: a\r\n\r\n", status: 400},
	{name: "trailer bare lf", in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\r\n", status: 400},
	{name: "trailer too large", lim: Limits{MaxHeaderBytes: 128}, in: "POST /p" + h11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: " + strings.Repeat("a", 200) + "\r\n\r\n", status: 431},
}
