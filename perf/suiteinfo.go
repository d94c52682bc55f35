package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// machine describes the host as BENCHMARKS.md wants it: processors and CPU model.
func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	n, model := 0, ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			model = strings.TrimSpace(v)
		}
	}
	return strconv.Itoa(n) + " × " + model
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func goVersion(dir string) string {
	return cmdOutput(dir, "go", "version")
}

// gitCommit is HEAD's short hash, marked dirty when the working tree has changes (other
// engineers commit to this checkout while the suite runs).
func gitCommit(dir string) string {
	h := cmdOutput(dir, "git", "rev-parse", "--short=12", "HEAD")
	if st := cmdOutput(dir, "git", "status", "--porcelain", "--untracked-files=no"); st != "" && st != "unknown" {
		h += " (working tree has uncommitted changes)"
	}
	return h
}

func cmdOutput(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// selfCPUs lists the CPUs this process may run on, as taskset -c would print them.
func selfCPUs() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "unknown"
	}
	var cpus []string
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, strconv.Itoa(i))
		}
	}
	return strings.Join(cpus, ",")
}

// PinnedTo reports whether this process already runs on exactly cpus ("1" or "0,1").
func PinnedTo(cpus string) bool { return selfCPUs() == cpus }

// MicroBenchmark is one go test -bench run of the suite's micro-benchmarks.
type MicroBenchmark struct{ Pkg, Pattern string }

// MicroBenchmarkSet is what the suite runs: the core packages whole, the server's push
// benchmarks (allocations per pushed message), the node links' benchmarks and the
// directory's (which start their own redis-server).
var MicroBenchmarkSet = []MicroBenchmark{
	{"engine", "."}, {"httpcodec", "."}, {"conntable", "."}, {"server", "Push"}, {"links", "Link"}, {"cluster", "Directory"},
}

// MicroCommands is the go test command lines MicroBenchmarks runs, for the report.
func MicroCommands() string {
	var b strings.Builder
	for _, m := range MicroBenchmarkSet {
		fmt.Fprintf(&b, "go test -run XXX -bench '%s' -benchmem ./%s/\n", m.Pattern, m.Pkg)
	}
	return b.String()
}

// MicroBenchmarks runs go test -bench for the packages of MicroBenchmarkSet that exist and
// returns the result lines; a package that is missing or fails to build is noted in the output.
func MicroBenchmarks(dir, benchtime string) string {
	var out strings.Builder
	for _, m := range MicroBenchmarkSet {
		pkg := m.Pkg
		if _, err := os.Stat(filepath.Join(dir, pkg)); err != nil {
			out.WriteString("# ./" + pkg + "/: not present yet\n")
			continue
		}
		args := []string{"test", "-run", "XXX", "-bench", m.Pattern, "-benchmem"}
		if benchtime != "" {
			args = append(args, "-benchtime", benchtime)
		}
		cmd := exec.Command("go", append(args, "./"+pkg+"/")...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") ||
				strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "ok") || strings.HasPrefix(line, "FAIL") {
				out.WriteString(line + "\n")
			}
		}
		if err != nil {
			out.WriteString("# ./" + pkg + "/: go test -bench failed: " + firstLine(string(b)) + "\n")
		}
	}
	return out.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
