package h2

import (
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// h2specPath finds the h2spec binary: on PATH or where `go install` puts it
// (.ci/run installs it; see README).
func h2specPath(t *testing.T) string {
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

// h2specExpected lists the h2spec cases the default Config fails on
// purpose, each with the RFC reason. All of them pass with the limits
// raised (TestH2Spec's second run), so they are the limits' doing, not the
// machinery's.
var h2specExpected = map[string]string{
	"generic/5 Sends a dynamic table size update": "we advertise SETTINGS_HEADER_TABLE_SIZE 0 so that an idle connection keeps no HPACK state; " +
		"h2spec ignores it and sends a size update to 128, which RFC 7541 §6.3 makes a decoding error (COMPRESSION_ERROR, RFC 9113 §4.3)",
	"generic/5 Sends multiple dynamic table size update": "as above: updates past our advertised table size of 0 (RFC 7541 §6.3)",
	"http2/6.10 Sends multiple CONTINUATION frames preceded by a HEADERS frame": "h2spec's encoder keeps indexing into a 4096-byte table after acknowledging our size of 0 " +
		"and references the entry in the second CONTINUATION: an index past our table (RFC 7541 §2.3.3, §4.2) is COMPRESSION_ERROR",
	"http2/4.2 Sends a DATA frame with 2^14 octets in length": "our stream receive window is MaxBody (4 KiB, advertised as SETTINGS_INITIAL_WINDOW_SIZE): " +
		"h2spec sends 16 KiB of body regardless, which RFC 9113 §6.9.1 makes a FLOW_CONTROL_ERROR (we answer RST_STREAM); push routes take no bodies",
}

type junitSuites struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string    `xml:"classname,attr"`
			Package string    `xml:"package,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// h2specRun runs h2spec (every section, strict cases included) against
// Conn with cfg, driven over loopback, and returns the failing cases.
func h2specRun(t *testing.T, cfg Config, overTLS bool) (failed []string) {
	bin := h2specPath(t)
	answer := func(d *driver, id uint32, method, path string, body []byte) {
		d.out, _ = d.c.WriteHeaders(d.out, id, 200, []Field{{"content-type", "text/plain"}}, false)
		d.out, _ = d.c.WriteData(d.out, id, []byte("hello from the h2 test server\n"), true)
	}
	args := []string{"--strict", "-h", "127.0.0.1", "-o", "5"}
	var addr string
	if overTLS {
		addr = serveTLSLoopback(t, cfg, answer)
		args = append(args, "-t", "-k")
	} else {
		addr = serveLoopback(t, cfg, answer, nil)
	}
	_, port, _ := net.SplitHostPort(addr)
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	cmd := exec.Command(bin, append(args, "-p", port, "-j", report)...)
	out, _ := cmd.CombinedOutput() // exits non-zero on any failure; the report says which
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no h2spec report: %v\n%s", err, out)
	}
	var rep junitSuites
	if err := xml.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range rep.Suites {
		for _, c := range s.Cases {
			total++
			id := c.Package + " " + c.Name
			if c.Failure != nil || c.Error != nil || c.Skipped != nil {
				failed = append(failed, id) // h2spec skips nothing with --strict; a skip would count as a failure
			}
		}
	}
	t.Logf("h2spec: %d of %d cases passed", total-len(failed), total)
	if total < 146 {
		t.Fatalf("h2spec ran %d cases; want the whole suite (146)\n%s", total, out)
	}
	return failed
}

// TestH2Spec runs the HTTP/2 conformance suite with the default Config,
// failing exactly the cases h2specExpected explains, and with the limits
// behind those raised, failing none, over h2c and over TLS.
func TestH2Spec(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		failed := h2specRun(t, Config{}, false)
		for _, id := range failed {
			if why, ok := h2specExpected[id]; ok {
				t.Logf("fails as expected: %s: %s", id, why)
			} else {
				t.Errorf("failed: %s", id)
			}
		}
		for id := range h2specExpected {
			if !slices.Contains(failed, id) {
				t.Errorf("expected to fail but passed (update h2specExpected): %s", id)
			}
		}
	})
	raised := Config{HeaderTableSize: 4096, MaxBody: 64 << 10}
	t.Run("table 4096, 64 KiB bodies", func(t *testing.T) {
		for _, id := range h2specRun(t, raised, false) {
			t.Errorf("failed: %s", id)
		}
	})
	// Over TLS (ALPN h2) the frames are the same; this proves the
	// connection works behind a TLS record layer that splits reads anywhere.
	t.Run("TLS, table 4096, 64 KiB bodies", func(t *testing.T) {
		for _, id := range h2specRun(t, raised, true) {
			t.Errorf("failed: %s", id)
		}
	})
}
