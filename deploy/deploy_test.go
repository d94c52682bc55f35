package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitKeys reads a systemd unit file into section → key → values (a key may
// repeat), failing on any line that is not a comment, a section header or
// key=value.
func unitKeys(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	units := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		switch {
		case s == "" || s[0] == '#' || s[0] == ';':
		case s[0] == '[' && s[len(s)-1] == ']':
			section = s[1 : len(s)-1]
			units[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(s, "=")
			if !ok || section == "" || k == "" || k != strings.TrimSpace(k) {
				t.Fatalf("%s:%d: %q is not key=value inside a section", path, line, s)
			}
			units[section][k] = append(units[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return units
}

// TestUnitFileKeys checks that the unit carries what a node of a million
// connections and a hardened service need, whatever systemd is installed.
func TestUnitFileKeys(t *testing.T) {
	u := unitKeys(t, "pushwire.service")
	want := map[string]string{
		"LimitNOFILE":           "1100000",
		"Restart":               "on-failure",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"CapabilityBoundingSet": "",
		"AmbientCapabilities":   "",
		"KillSignal":            "SIGTERM",
		// The upgrade (README "Upgrading without dropping connections"): reload sends
		// SIGUSR2, and the main PID moves to the new process through the notify socket.
		"Type":         "notify",
		"NotifyAccess": "all",
		"ExecReload":   "/bin/kill -USR2 $MAINPID",
	}
	svc := u["Service"]
	for k, v := range want {
		got, ok := svc[k]
		if !ok || got[len(got)-1] != v {
			t.Errorf("[Service] %s = %q (set: %v); want %q", k, got, ok, v)
		}
	}
	if !strings.HasPrefix(svc["ExecStart"][0], "/usr/local/bin/pushwire ") {
		t.Errorf("ExecStart = %q; want /usr/local/bin/pushwire ...", svc["ExecStart"])
	}
	if u["Install"]["WantedBy"] == nil {
		t.Errorf("[Install] has no WantedBy: systemctl enable would do nothing")
	}
}

// TestUnitFileVerifies runs systemd-analyze verify on the unit, with its
// ExecStart pointed at an executable that exists here (verify checks that).
func TestUnitFileVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is required (Debian package systemd; ./test.sh installs it): %v", err)
	}
	unit, err := os.ReadFile("pushwire.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/pushwire", self)
	path := filepath.Join(t.TempDir(), "pushwire.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// verify exits 0 on some warnings; any line naming our file is one.
	if err != nil || strings.Contains(string(out), "pushwire.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSysctlFile checks that every line of the sysctl file is a comment or
// "key = value" with a comment above it, and that every key exists under
// /proc/sys on this kernel (keys with the "-" prefix, which sysctl skips when
// absent, only where their module is loaded).
func TestSysctlFile(t *testing.T) {
	f, err := os.Open("sysctl.d/90-pushwire.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]bool{
		"fs.nr_open": true, "fs.file-max": true, "net.core.somaxconn": true,
		"net.ipv4.tcp_max_syn_backlog": true, "net.ipv4.tcp_mem": true,
		"net.ipv4.tcp_rmem": true, "net.ipv4.tcp_wmem": true,
		"net.ipv4.ip_local_port_range": true, "net.netfilter.nf_conntrack_max": true,
	}
	commented := false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			commented = false
			continue
		}
		if s[0] == '#' || s[0] == ';' {
			commented = true
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			t.Errorf("line %d: %q is not key = value", line, s)
			continue
		}
		if !commented {
			t.Errorf("line %d: %s has no comment saying why", line, k)
		}
		optional := strings.HasPrefix(k, "-")
		k = strings.TrimPrefix(k, "-")
		delete(want, k)
		proc := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		cur, err := os.ReadFile(proc)
		if err != nil {
			if optional && os.IsNotExist(err) {
				t.Logf("%s: not on this kernel (module not loaded); sysctl skips it", k)
				continue
			}
			t.Errorf("line %d: %s: %v", line, k, err)
			continue
		}
		if got, want := len(strings.Fields(v)), len(strings.Fields(string(cur))); got != want {
			t.Errorf("line %d: %s has %d fields; the kernel's %q has %d", line, k, got, strings.TrimSpace(string(cur)), want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		t.Errorf("the sysctl file does not set %s", k)
	}
}

// TestContainerfileBuildsStaticBinary runs the Containerfile's build command
// (its RUN line with "go build", output redirected to a temporary directory)
// and checks that the binary is static: no ELF interpreter and no shared
// libraries, so it runs on distroless/static, which has no libc.
func TestContainerfileBuildsStaticBinary(t *testing.T) {
	text, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var run string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, " go build ") {
			run = strings.TrimPrefix(line, "RUN ")
		}
	}
	if run == "" {
		t.Fatal("Containerfile has no RUN ... go build line")
	}
	out := filepath.Join(t.TempDir(), "pushwire")
	run = strings.Replace(run, "-o /out/pushwire", "-o "+out, 1)
	if !strings.Contains(run, out) || !strings.HasPrefix(run, "CGO_ENABLED=0 ") {
		t.Fatalf("build line %q: want CGO_ENABLED=0 ... -o /out/pushwire", run)
	}
	build := exec.Command("sh", "-c", run)
	build.Dir = ".." // the build context is the module root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary names an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}
