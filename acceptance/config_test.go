package acceptance

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestConfigFileAndFlagOverride: settings come from --config, and flags win.
func TestConfigFileAndFlagOverride(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pushwire.conf")
	conf := `# pushwire settings
listen 127.0.0.1:0
api-listen = 127.0.0.1:0
node-id from-file
heartbeat 1h            # the flag below wins
max-message-bytes 1KiB
allowed-origins http://conf.example
`
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNodeArgs(t, "--config", file, "--node-id", "from-flag", "--heartbeat", "500ms")

	r := n.do("GET", "/stats", "")
	var st struct{ Node string }
	json.Unmarshal(r.body, &st)
	if st.Node != "from-flag" {
		t.Errorf("/stats node = %q; want from-flag (flag over file)", st.Node)
	}
	if r := n.pub("all", strings.Repeat("x", 1025)); r.status != 413 {
		t.Errorf("1025-byte push with max-message-bytes 1KiB in the file = %d; want 413", r.status)
	}
	if r := n.pub("all", strings.Repeat("x", 1024)); r.status != 200 {
		t.Errorf("1024-byte push = %d; want 200", r.status)
	}
	s := n.subscribe("/sub?topic=c", "Origin", "http://conf.example")
	defer s.close()
	if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "http://conf.example" {
		t.Errorf("Allow-Origin = %q; want http://conf.example from the file", got)
	}
	s.packet()
	// --heartbeat 500ms from the flag, not 1h from the file: a heartbeat comes
	// long before the read deadline.
	if got := s.packet(); got != `{"protocol":0,"time":T}` {
		t.Errorf("idle packet = %s; want a heartbeat", got)
	}
}

// runOnce runs pushwire with args to completion and returns its exit code and output.
func runOnce(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return 0, out.String()
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("run pushwire %v: %v", args, err)
	}
	return ee.ExitCode(), out.String()
}

func TestBadSettingsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.conf")
	os.WriteFile(unknown, []byte("listen 127.0.0.1:0\napi-listen 127.0.0.1:0\nno-such-setting 1\n"), 0o600)
	badValue := filepath.Join(dir, "bad.conf")
	os.WriteFile(badValue, []byte("listen 127.0.0.1:0\napi-listen 127.0.0.1:0\nheartbeat soon\n"), 0o600)
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"--config", unknown}, "no-such-setting"},
		{[]string{"--config", badValue}, "heartbeat"},
		{[]string{"--config", filepath.Join(dir, "missing.conf")}, "missing.conf"},
		{[]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--heartbeat", "-1s"}, "heartbeat"},
		{[]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--max-message-bytes", "lots"}, "max-message-bytes"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	}
	for _, c := range cases {
		code, out := runOnce(t, c.args...)
		if code == 0 {
			t.Errorf("pushwire %v exited 0; want a refusal", c.args)
		}
		if !strings.Contains(out, c.says) {
			t.Errorf("pushwire %v said %q; want it to name %s", c.args, out, c.says)
		}
	}
}

// TestHelpListsEverySetting: -h lists the settings of SPEC §2–§4, §6, §7, §9, §10
// with their defaults, and exits 0.
func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	code, out := runOnce(t, "-h")
	if code != 0 {
		t.Errorf("pushwire -h exited %d; want 0", code)
	}
	defaults := map[string]string{
		"listen":             `":8080"`,
		"api-listen":         `"127.0.0.1:8081"`,
		"cluster-listen":     `":7946"`,
		"redis":              "",
		"node-id":            "",
		"advertise":          "",
		"node-ttl":           "15s",
		"config":             "",
		"allowed-origins":    "*",
		"heartbeat":          "25s",
		"poll-timeout":       "30s",
		"max-message-bytes":  "64KiB",
		"topic-history":      "",
		"max-conns":          "",
		"max-conns-per-ip":   "",
		"header-timeout":     "10s",
		"max-header-bytes":   "8KiB",
		"write-buffer-limit": "256KiB",
		"publish-rate":       "",
		"api-token":          "",
		"auth-url":           "",
		"auth-timeout":       "3s",
		"jwt-secret":         "",
		"topic-acl":          "",
		"hook-url":           "",
		"hook-queue":         "65536",
		"drain":              "30s",
		"log-level":          `"info"`,
	}
	for name, def := range defaults {
		re := regexp.MustCompile(`(?m)^\s+-{1,2}` + regexp.QuoteMeta(name) + `\b[^\n]*\n((?:\s{4,}[^\n]*\n)*)`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("pushwire -h does not list --%s", name)
			continue
		}
		if def != "" && !strings.Contains(m[0], "(default "+def+")") {
			t.Errorf("pushwire -h entry for --%s = %q; want (default %s)", name, strings.TrimSpace(m[0]), def)
		}
	}
}

// TestCapacityLogged: the started line reports the connection capacity the
// raised open-files limit gives.
func TestCapacityLogged(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	m := regexp.MustCompile(`msg="pushwire started".* capacity=(\d+)`).FindStringSubmatch(n.logText())
	if m == nil {
		t.Fatalf("no capacity= in the started line:\n%s", n.logText())
	}
	capacity, _ := strconv.Atoi(m[1])
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if capacity < 1 || uint64(capacity) > lim.Max {
		t.Errorf("capacity=%d; want between 1 and the hard open-files limit %d", capacity, lim.Max)
	}
	if lim.Max > 4096 && capacity <= 1024 {
		t.Errorf("capacity=%d with a hard limit of %d; want the soft limit raised to the hard one", capacity, lim.Max)
	}
}
