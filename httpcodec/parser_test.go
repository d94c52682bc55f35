package httpcodec

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestParseCases(t *testing.T) {
	t.Parallel()
	if len(parseCases) < 60 {
		t.Fatalf("len(parseCases) = %d; want at least 60", len(parseCases))
	}
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tc.in)
			whole := feed(tc.lim, in, nil)
			checkCase(t, tc, whole)
			check := func(mode string, got []result) {
				t.Helper()
				if !sameResults(got, whole) {
					t.Fatalf("%s: results %v; want %v (as fed whole)", mode, got, whole)
				}
			}
			check("one byte per read", feed(tc.lim, in, onePieces(len(in))))
			for i := 1; i < len(in); i++ {
				check("split at "+strconv.Itoa(i), feed(tc.lim, in, []int{i}))
			}
			r := rand.New(rand.NewPCG(uint64(len(in)), 42))
			for i := 0; i < 20; i++ {
				pieces := randomPieces(r, len(in))
				check("random pieces", feed(tc.lim, in, pieces))
			}
		})
	}
}

// checkCase compares the first request's result, fed whole, with the case.
func checkCase(t *testing.T, tc parseCase, got []result) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("Parse gave no result")
	}
	g := got[0]
	switch {
	case tc.status != 0:
		if g.status != tc.status {
			t.Fatalf("Parse = %v; want status %d", g, tc.status)
		}
		return
	case tc.incomplete:
		if g != (result{}) {
			t.Fatalf("Parse = %v; want (0, nil): incomplete", g)
		}
		return
	}
	wantN := tc.n
	if wantN == 0 {
		wantN = len(tc.in)
	}
	if g.status != 0 || g.n != wantN {
		t.Fatalf("Parse = %d, status %d; want %d, nil", g.n, g.status, wantN)
	}
	wantPath := tc.path
	if wantPath == "" {
		wantPath = tc.target
	}
	if g.method != tc.method || g.target != tc.target || g.path != wantPath || g.query != tc.query {
		t.Errorf("method, target, path, query = %q %q %q %q; want %q %q %q %q",
			g.method, g.target, g.path, g.query, tc.method, tc.target, wantPath, tc.query)
	}
	if tc.host != "" && g.host != tc.host {
		t.Errorf("Host() = %q; want %q", g.host, tc.host)
	}
	if tc.headers != "" && g.headers != tc.headers {
		t.Errorf("headers = %q; want %q", g.headers, tc.headers)
	}
	if g.body != tc.body {
		t.Errorf("Body() = %q; want %q", g.body, tc.body)
	}
	if g.keepAlive == tc.closes {
		t.Errorf("KeepAlive() = %v; want %v", g.keepAlive, !tc.closes)
	}
	if g.expect != tc.expect {
		t.Errorf("ExpectContinue() = %v; want %v", g.expect, tc.expect)
	}
	wantMinor := 1
	line := strings.TrimPrefix(tc.in, "\r\n")
	if strings.Contains(line[:strings.IndexByte(line, '\r')], "HTTP/1.0") {
		wantMinor = 0
	}
	if g.minor != wantMinor {
		t.Errorf("Minor() = %d; want %d", g.minor, wantMinor)
	}
}
