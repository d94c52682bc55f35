// Package testbin builds the pushwire binary that a black-box test package
// drives, once per test binary.
package testbin

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// prebuilt names a pushwire binary to test instead of building one:
// go test ./acceptance/... -args -pushwire.bin=/path/to/pushwire
var prebuilt = flag.String("pushwire.bin", "", "test this pushwire binary instead of building ./cmd/pushwire")

// Run builds ./cmd/pushwire into a temporary directory (or takes
// -pushwire.bin), stores its path in *binary, runs the tests and returns
// their exit code. flag.Parse must have run.
func Run(m *testing.M, binary *string) int {
	if *prebuilt != "" {
		*binary = *prebuilt
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "pushwire-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	*binary = filepath.Join(dir, "pushwire")
	// Built with the race detector: the tests drive the real server hard, and
	// a race or a panic in it fails them (CheckOutput).
	build := exec.Command("go", "build", "-race", "-o", *binary, "./cmd/pushwire")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "testbin: go build ./cmd/pushwire:", err)
		return 1
	}
	return m.Run()
}

// CheckOutput fails t when a process's output shows a data race or a panic:
// a server that crashed or raced must not pass a test that happened not to
// notice.
func CheckOutput(t testing.TB, name, output string) {
	t.Helper()
	for _, mark := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
		if strings.Contains(output, mark) {
			t.Errorf("%s printed %q:\n%s", name, mark, output)
			return
		}
	}
}

// moduleRoot is the directory of the go.mod the tests belong to.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}
