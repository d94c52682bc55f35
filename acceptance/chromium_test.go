package acceptance

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const chromiumPath = "/usr/bin/chromium"

// startChromium opens url in headless Chromium with its own profile; stop
// kills it and, when the test failed, logs what it printed. A machine
// without Chromium fails the test: the browser tests are the only proof
// that a real EventSource reads pushwire's streams.
func startChromium(t *testing.T, url string, extra ...string) (stop func()) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required for the browser test (Debian package chromium): %v", err)
	}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}, extra...)
	browser := exec.Command(chromiumPath, append(args, url)...)
	var browserLog strings.Builder
	browser.Stdout, browser.Stderr = &browserLog, &browserLog
	if err := browser.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return func() {
		browser.Process.Kill()
		browser.Wait()
		if t.Failed() {
			t.Logf("chromium output:\n%s", browserLog.String())
		}
	}
}
