package httpcodec

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fixtureDir holds raw wire captures named <status>-<what>.http; status 200
// means every request in the file is accepted.
const fixtureDir = "../testdata/http"

func readFixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.http"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func TestWireFixtures(t *testing.T) {
	t.Parallel()
	for name, in := range readFixtures(t) {
		status, err := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
		if err != nil {
			t.Fatalf("fixture %s: name must start with a status", name)
		}
		whole := feed(Limits{}, in, nil)
		last := whole[len(whole)-1]
		switch {
		case status == 200 && (last.n == 0 || last.status != 0):
			t.Errorf("%s: last result %v; want every request accepted", name, last)
		case status != 200 && last.status != status:
			t.Errorf("%s: last result %v; want status %d", name, last, status)
		}
		if got := feed(Limits{}, in, onePieces(len(in))); !sameResults(got, whole) {
			t.Errorf("%s: one byte per read %v; want %v", name, got, whole)
		}
		rest := in
		for _, r := range whole {
			if r.n == 0 {
				break
			}
			if err := agreeWithNetHTTP(rest[:r.n], r); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			rest = rest[r.n:]
		}
	}
}
