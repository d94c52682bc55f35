package freeport

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestTakeDistinctBelowEphemeral(t *testing.T) {
	ports, err := Take(50)
	if err != nil {
		t.Fatal(err)
	}
	defer Release(ports...)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if p < lowest || p >= ephemeralLow() {
			t.Errorf("port %d outside [%d, %d)", p, lowest, ephemeralLow())
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d: %v", p, err)
			continue
		}
		ln.Close()
	}
}

func TestSkipsPortInUse(t *testing.T) {
	ports, err := Take(1)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	Release(ports...) // free in the lock table, but someone listens on it
	dir := os.TempDir() + "/pushwire-ports"
	if lock(dir, ports[0]) {
		Release(ports[0])
		t.Fatalf("port %d handed out while a listener holds it", ports[0])
	}
}

const childEnv = "FREEPORT_CHILD"

// TestHeldAcrossProcesses: ports one process holds are not handed to another.
// The parent holds 2,000 of the ~22,000 ports below the ephemeral range
// (without listening on them) and a child process takes 2,000 more: without
// the locks about 180 would be the same.
func TestHeldAcrossProcesses(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		ports, err := Take(2000)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("PORTS", strings.Trim(fmt.Sprint(ports), "[]"))
		return
	}
	ports, err := Take(2000)
	if err != nil {
		t.Fatal(err)
	}
	defer Release(ports...)
	mine := map[int]bool{}
	for _, p := range ports {
		mine[p] = true
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestHeldAcrossProcesses$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "PORTS "); ok {
			got = strings.Fields(rest)
		}
	}
	if len(got) != 2000 {
		t.Fatalf("child reported %d ports; want 2000:\n%.300s", len(got), out)
	}
	for _, s := range got {
		p, _ := strconv.Atoi(s)
		if mine[p] {
			t.Errorf("child got port %d, held by the parent", p)
		}
	}
}
