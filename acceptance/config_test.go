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
	return runOnceEnv(t, nil, args...)
}

// runOnceEnv is runOnce with env ("NAME=value") added to the test's environment.
func runOnceEnv(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
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

// TestConfigFromEnvironment: every setting can come from PUSHWIRE_<NAME>
// alone, with no flag and no file.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	n := startNodeEnv(t, []string{
		"PUSHWIRE_LISTEN=127.0.0.1:0",
		"PUSHWIRE_API_LISTEN=127.0.0.1:0",
		"PUSHWIRE_NODE_ID=from-env",
		"PUSHWIRE_MAX_MESSAGE_BYTES=1KiB",
		"PUSHWIRE_ALLOWED_ORIGINS=http://env.example",
	})
	expectSettings(t, n, "from-env", 1024, "http://env.example")
}

// TestConfigPrecedence: flag > environment > file > default, one setting
// per rung (node-id from the flag, max-message-bytes from the environment,
// allowed-origins from the file), with the file itself named by PUSHWIRE_CONFIG.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pushwire.conf")
	conf := "listen 127.0.0.1:0\napi-listen 127.0.0.1:0\nnode-id from-file\nmax-message-bytes 1KiB\nallowed-origins http://file.example\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNodeEnv(t, []string{
		"PUSHWIRE_CONFIG=" + file,
		"PUSHWIRE_NODE_ID=from-env",
		"PUSHWIRE_MAX_MESSAGE_BYTES=2KiB",
	}, "--node-id", "from-flag")
	expectSettings(t, n, "from-flag", 2048, "http://file.example")
}

// expectSettings checks that n runs with node-id nodeID, max-message-bytes
// maxMessage and allowed-origins origin, through /stats, publishes and a subscribe.
func expectSettings(t *testing.T, n *node, nodeID string, maxMessage int, origin string) {
	t.Helper()
	var st struct{ Node string }
	json.Unmarshal(n.do("GET", "/stats", "").body, &st)
	if st.Node != nodeID {
		t.Errorf("/stats node = %q; want %s", st.Node, nodeID)
	}
	if r := n.pub("all", strings.Repeat("x", maxMessage)); r.status != 200 {
		t.Errorf("%d-byte push = %d; want 200 with max-message-bytes %d", maxMessage, r.status, maxMessage)
	}
	if r := n.pub("all", strings.Repeat("x", maxMessage+1)); r.status != 413 {
		t.Errorf("%d-byte push = %d; want 413 with max-message-bytes %d", maxMessage+1, r.status, maxMessage)
	}
	s := n.subscribe("/sub?topic=c", "Origin", origin)
	defer s.close()
	if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Allow-Origin = %q; want %s", got, origin)
	}
}

// TestBadSettingNamesSource: a bad value is refused with exit code 2 and a
// message naming the setting and where it came from.
func TestBadSettingNamesSource(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("listen 127.0.0.1:0\napi-listen 127.0.0.1:0\nheartbeat soon\n"), 0o600)
	small := filepath.Join(t.TempDir(), "small.conf")
	os.WriteFile(small, []byte("listen 127.0.0.1:0\napi-listen 127.0.0.1:0\nwrite-buffer-limit 100\n"), 0o600)
	listen := []string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}
	cases := []struct {
		env  []string
		args []string
		says []string
	}{
		{[]string{"PUSHWIRE_HEARTBEAT=soon"}, listen, []string{"heartbeat", "environment PUSHWIRE_HEARTBEAT"}},
		{[]string{"PUSHWIRE_MAX_CONNS=many"}, listen, []string{"max-conns", "environment PUSHWIRE_MAX_CONNS"}},
		{[]string{"PUSHWIRE_MAX_MESSAGE_BYTES=lots"}, listen, []string{"max-message-bytes", "environment PUSHWIRE_MAX_MESSAGE_BYTES", `"lots"`}},
		{[]string{"PUSHWIRE_LOG_LEVEL=loud"}, listen, []string{"log-level", "environment PUSHWIRE_LOG_LEVEL"}},
		{nil, []string{"--config", bad}, []string{"heartbeat", "file " + bad + " line 3"}},
		{nil, append([]string{"--max-conns", "many"}, listen...), []string{"max-conns", "flag"}},
		// values that parse but the server refuses name their source too
		{[]string{"PUSHWIRE_HEARTBEAT=-1s"}, listen, []string{"heartbeat must be a positive duration", "heartbeat from environment PUSHWIRE_HEARTBEAT"}},
		{nil, []string{"--config", small}, []string{"write-buffer-limit must be at least 4096", "write-buffer-limit from file " + small + " line 3"}},
		{[]string{"PUSHWIRE_NODE_ID=a b"}, listen, []string{"node-id", "node-id from environment PUSHWIRE_NODE_ID"}},
		// the flag wins, so the environment's bad value is never read
		{[]string{"PUSHWIRE_HEARTBEAT=soon"}, append([]string{"--heartbeat", "2s", "--print-config"}, listen...), nil},
	}
	for _, c := range cases {
		code, out := runOnceEnv(t, c.env, c.args...)
		if c.says == nil {
			if code != 0 {
				t.Errorf("%v pushwire %v exited %d: %s; want 0", c.env, c.args, code, out)
			}
			continue
		}
		if code != 2 {
			t.Errorf("%v pushwire %v exited %d; want 2", c.env, c.args, code)
		}
		for _, want := range c.says {
			if !strings.Contains(out, want) {
				t.Errorf("%v pushwire %v said %q; want it to name %s", c.env, c.args, out, want)
			}
		}
	}
}

// TestPrintConfig: --print-config prints every effective setting in the
// --config format with secrets masked, exits 0, and what it prints reads
// back through --config to the same output and to a node that runs.
func TestPrintConfig(t *testing.T) {
	t.Parallel()
	env := []string{
		"PUSHWIRE_JWT_SECRET=jwt-s3cret",
		"PUSHWIRE_NODE_ID=from env",
		"PUSHWIRE_HEARTBEAT=7s",
	}
	code, out := runOnceEnv(t, env, "--print-config",
		"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--api-token", "tok-s3cret",
		"--redis", "redis://user:redis-s3cret@127.0.0.1:1/0",
		"--hook-url", "http://hook:hook-s3cret@127.0.0.1:1/h?a=b",
		"--auth-url", "http://127.0.0.1:1/auth?x=y&z=1",
		"--topic-acl", "user.{user}.*", "--topic-acl", "public.*",
		"--max-message-bytes", "3KiB")
	if code != 0 {
		t.Fatalf("--print-config exited %d: %s", code, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("--print-config shows a secret:\n%s", out)
	}
	for _, want := range []string{
		"api-token ***\n",
		"jwt-secret ***\n",
		"redis redis://***@127.0.0.1:1/0\n",
		"hook-url http://***@127.0.0.1:1/h?a=b\n",
		"auth-url http://127.0.0.1:1/auth?x=y&z=1\n",
		"topic-acl user.{user}.*,public.*\n",
		"max-message-bytes 3KiB\n",
		"heartbeat 7s\n",
		"node-id \"from env\"\n",
		"listen 127.0.0.1:0\n",
		"tls-listen \"\"\n",
		"drain 30s\n", // a default
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if name, _, _ := strings.Cut(line, " "); name == "config" || name == "print-config" {
			t.Errorf("--print-config prints %q; want settings only", line)
		}
	}

	file := filepath.Join(t.TempDir(), "printed.conf")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	code, again := runOnce(t, "--config", file, "--print-config")
	if code != 0 || again != out {
		t.Errorf("--config <printed> --print-config exited %d and printed\n%s\nwant the same as the first print:\n%s", code, again, out)
	}

	// A printed standalone configuration runs as is.
	code, out = runOnceEnv(t, []string{"PUSHWIRE_NODE_ID=printed"}, "--print-config", "--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("--print-config exited %d: %s", code, out)
	}
	standalone := filepath.Join(t.TempDir(), "standalone.conf")
	os.WriteFile(standalone, []byte(out), 0o600)
	n := startNodeArgs(t, "--config", standalone)
	var st struct{ Node string }
	json.Unmarshal(n.do("GET", "/stats", "").body, &st)
	if st.Node != "printed" {
		t.Errorf("node started from a printed config: /stats node = %q; want printed", st.Node)
	}
}
