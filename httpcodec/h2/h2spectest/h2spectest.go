// Package h2spectest runs h2spec, the HTTP/2 conformance suite, for tests:
// the codec's against its own loopback driver (httpcodec/h2) and the
// binary's (acceptance/). It finds the h2spec binary, runs the whole suite
// and reads which cases failed from its JUnit report.
package h2spectest

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SuiteCases is the number of cases h2spec v2.2.1 runs with --strict.
const SuiteCases = 146

// Binary finds h2spec: on PATH or where `go install` puts it (.ci/run
// installs it; see README).
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	out, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "h2spec")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("h2spec not found: go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible")
	}
	return p
}

type report struct {
	Suites []struct {
		Cases []struct {
			Name    string    `xml:"classname,attr"`
			Package string    `xml:"package,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// Run runs every h2spec case (--strict, 5 s timeout each) against
// host:port, with args added (e.g. "-t", "-k" for TLS), and returns the
// failed cases as "<package> <case>" and h2spec's output. A skipped case
// counts as failed: --strict skips nothing. It fails t when the suite did
// not run whole.
func Run(t testing.TB, host, port string, args ...string) (failed []string, output string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h2spec.xml")
	args = append([]string{"--strict", "-h", host, "-p", port, "-o", "5", "-j", path}, args...)
	out, _ := exec.Command(Binary(t), args...).CombinedOutput() // non-zero on any failure; the report says which
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no h2spec report: %v\n%s", err, out)
	}
	var rep report
	if err := xml.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range rep.Suites {
		for _, c := range s.Cases {
			total++
			if c.Failure != nil || c.Error != nil || c.Skipped != nil {
				failed = append(failed, c.Package+" "+c.Name)
			}
		}
	}
	t.Logf("h2spec: %d of %d cases passed", total-len(failed), total)
	if total < SuiteCases {
		t.Fatalf("h2spec ran %d cases; want the whole suite (%d)\n%s", total, SuiteCases, out)
	}
	return failed, string(out)
}
