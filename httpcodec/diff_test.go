package httpcodec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"testing"
)

// agreeWithNetHTTP checks one request we accepted, raw being its original
// bytes: net/http.ReadRequest must accept it too, with the same method,
// target, header fields and body. The check runs one way only: net/http is
// laxer than we are in places (bare LF, obs-fold, duplicate equal
// Content-Length), so its acceptances prove nothing about ours.
//
// One empty line before the request line is ours to skip (RFC 9112 §2.2);
// net/http skips it in its server loop, not in ReadRequest, so it is cut off
// here before the comparison.
func agreeWithNetHTTP(raw []byte, got result) error {
	raw = bytes.TrimPrefix(raw, []byte("\r\n"))
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return fmt.Errorf("net/http rejects what we accept: %v", err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return fmt.Errorf("net/http fails reading the body we accept: %v", err)
	}
	if req.Method != got.method || req.RequestURI != got.target {
		return fmt.Errorf("net/http method, target = %q %q; ours %q %q", req.Method, req.RequestURI, got.method, got.target)
	}
	if string(body) != got.body {
		return fmt.Errorf("net/http body = %q; ours %q", body, got.body)
	}
	// net/http moves Host and Trailer out of Header and drops
	// Transfer-Encoding once it has applied it; the framing is checked by
	// the body, Host separately below. It also adds Cache-Control for
	// "Pragma: no-cache".
	ours := http.Header{}
	for _, line := range bytes.Split([]byte(got.headers), []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		if key == "Host" || key == "Transfer-Encoding" || key == "Trailer" {
			continue
		}
		ours[key] = append(ours[key], string(value))
	}
	for key, values := range req.Header {
		if key == "Trailer" { // kept in Header only when the body is not chunked
			continue
		}
		if key == "Cache-Control" && ours["Cache-Control"] == nil && ours["Pragma"] != nil {
			continue
		}
		if !slices.Equal(values, ours[key]) {
			return fmt.Errorf("net/http header %s = %q; ours %q", key, values, ours[key])
		}
	}
	for key, values := range ours {
		if !slices.Equal(values, req.Header[key]) {
			return fmt.Errorf("header %s = %q; net/http %q", key, values, req.Header[key])
		}
	}
	if got.host != "" && req.URL.Host == "" && req.Host != got.host {
		return fmt.Errorf("net/http Host = %q; ours %q", req.Host, got.host)
	}
	return nil
}

func TestAgreesWithNetHTTP(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, tc := range parseCases {
		in := []byte(tc.in)
		got := feed(tc.lim, in, nil)
		for _, g := range got {
			if g.n == 0 {
				break
			}
			if err := agreeWithNetHTTP(in[:g.n], g); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			in = in[g.n:]
			checked++
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d accepted requests; want at least 30", checked)
	}
}
