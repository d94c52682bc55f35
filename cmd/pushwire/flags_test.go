package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pushwire/pushwire/server"
)

// load parses args like run does, then the environment env and the file
// holding conf (named by --config in args or PUSHWIRE_CONFIG in env).
func load(t *testing.T, args []string, env map[string]string) (*server.Config, *flag.FlagSet, map[string]string, error) {
	t.Helper()
	cfg := server.DefaultConfig()
	fs := flag.NewFlagSet("pushwire", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	registerFlags(fs, &cfg)
	fs.String("config", "", "")
	fs.Bool("print-config", false, "")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	sources, err := loadSettings(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return &cfg, fs, sources, err
}

func writeConf(t *testing.T, conf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pushwire.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	path := writeConf(t, "node-id from-file\nheartbeat=1s\nretry = 3s\ntopic-acl a.*\ntopic-acl b.*\nallowed-origins http://f\n"+
		"auth-url http://h/auth?x=y\nmax-conns 5\n")
	cfg, _, sources, err := load(t, []string{"--node-id", "from-flag", "--max-conns", "7"}, map[string]string{
		"PUSHWIRE_CONFIG":          path,
		"PUSHWIRE_NODE_ID":         "from-env",
		"PUSHWIRE_HEARTBEAT":       "2s",
		"PUSHWIRE_ALLOWED_ORIGINS": "http://e1,http://e2",
		"PUSHWIRE_PRINT_CONFIG":    "true", // an action, not a setting: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != "from-flag" || cfg.MaxConns != 7 {
		t.Errorf("node-id %q, max-conns %d; want the flags' from-flag, 7", cfg.NodeID, cfg.MaxConns)
	}
	if cfg.Heartbeat.String() != "2s" || strings.Join(cfg.AllowedOrigins, " ") != "http://e1 http://e2" {
		t.Errorf("heartbeat %v, origins %v; want the environment's over the file's", cfg.Heartbeat, cfg.AllowedOrigins)
	}
	if cfg.Retry.String() != "3s" || strings.Join(cfg.TopicACL, " ") != "a.* b.*" || cfg.AuthURL != "http://h/auth?x=y" {
		t.Errorf("retry %v, topic-acl %v, auth-url %q; want the file's 3s, both lines, the URL with its query", cfg.Retry, cfg.TopicACL, cfg.AuthURL)
	}
	if cfg.Drain.String() != "30s" {
		t.Errorf("drain %v; want the default 30s", cfg.Drain)
	}
	want := map[string]string{
		"node-id":         "flag --node-id",
		"heartbeat":       "environment PUSHWIRE_HEARTBEAT",
		"config":          "environment PUSHWIRE_CONFIG",
		"retry":           "file " + path + " line 3",
		"topic-acl":       "file " + path + " line 5",
		"allowed-origins": "environment PUSHWIRE_ALLOWED_ORIGINS",
	}
	for name, src := range want {
		if sources[name] != src {
			t.Errorf("source of %s = %q; want %q", name, sources[name], src)
		}
	}
	if _, ok := sources["print-config"]; ok || sources["drain"] != "" {
		t.Errorf("sources has print-config or a default: %v", sources)
	}
}

func TestBadValueNamesSource(t *testing.T) {
	path := writeConf(t, "node-id x\n\nmax-message-bytes lots\n")
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PUSHWIRE_MAX_CONNS": "x"}, "max-conns from environment PUSHWIRE_MAX_CONNS: "},
		{[]string{"--config", path}, nil, "max-message-bytes from file " + path + " line 3: "},
		{nil, map[string]string{"PUSHWIRE_CONFIG": path, "PUSHWIRE_ALLOWED_ORIGINS": ""}, "allowed-origins from environment PUSHWIRE_ALLOWED_ORIGINS: "},
		{[]string{"--config", writeConf(t, "print-config true\n")}, nil, `line 1: unknown setting "print-config"`},
		{[]string{"--config", writeConf(t, "heartbeat\n")}, nil, `line 1: want "name value"`},
	} {
		_, _, _, err := load(t, c.args, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err %v; want it to contain %q", c.args, c.env, err, c.want)
		}
	}
}

func TestWithoutUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"redis://h:6379/0":                   "redis://h:6379/0",
		"redis://u:p@h:6379/0":               "redis://***@h:6379/0",
		"redis://:p@h1:7000,h2:7000":         "redis://***@h1:7000,h2:7000",
		"http://h/a?next=u@x":                "http://h/a?next=u@x",
		"https://u:p@h/hook?x=1":             "https://***@h/hook?x=1",
		"rediss://u:p%40ss@h:6380?addr=h2:1": "rediss://***@h:6380?addr=h2:1",
	} {
		if got := server.WithoutUserinfo(in); got != want {
			t.Errorf("server.WithoutUserinfo(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzConfigFile: any file is refused with an error or loaded, never a panic;
// a loaded one prints a configuration that reads back to the same print.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"listen 127.0.0.1:0\napi-listen = :1\n# c\nnode-id \"a b\" # x\n",
		"topic-acl a.*,b.*\ntopic-acl c\nmax-message-bytes 1KiB\nheartbeat=1h\n",
		"auth-url http://h/a?x=y\nnode-id ==a\npublish-rate 1.5\n",
		"--redis redis://u:p@h/0\nno-such 1\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, conf string) {
		_, fs, _, err := load(t, []string{"--config", writeConf(t, conf)}, nil)
		if err != nil {
			return
		}
		var first bytes.Buffer
		printConfig(&first, fs)
		_, fs, _, err = load(t, []string{"--config", writeConf(t, first.String())}, nil)
		if err != nil {
			t.Fatalf("printed config refused: %v\n%s", err, first.String())
		}
		var second bytes.Buffer
		printConfig(&second, fs)
		if first.String() != second.String() {
			t.Fatalf("print, read, print differs:\n%s\n---\n%s", first.String(), second.String())
		}
	})
}

// TestInvalidValueNamesSource: a value that parses but that the server
// refuses (Config.Validate, server.New) is reported with where it came
// from, as a value that does not parse is.
func TestInvalidValueNamesSource(t *testing.T) {
	path := writeConf(t, "# settings\nwrite-buffer-limit 100\ntopic-acl user.{user}.*\n")
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{nil, map[string]string{"PUSHWIRE_HEARTBEAT": "-1s"},
			[]string{"--heartbeat must be a positive duration, got -1s (heartbeat from environment PUSHWIRE_HEARTBEAT)"}},
		{[]string{"--poll-buffer", "0"}, nil,
			[]string{"--poll-buffer must be at least 1, got 0 (poll-buffer from flag --poll-buffer)"}},
		{[]string{"--config", path}, nil, []string{
			"--write-buffer-limit must be at least 4096, got 100 (write-buffer-limit from file " + path + " line 2)",
			"--topic-acl needs --auth-url or --jwt-secret: without them the user is whatever the client says (topic-acl from file " + path +
				" line 3; auth-url from the default; jwt-secret from the default)"}},
		// Both errors of one start are reported, each with its own source.
		{[]string{"--retry", "0s"}, map[string]string{"PUSHWIRE_DEFAULT_TTL": "0s"}, []string{
			"(retry from flag --retry)", "(default-ttl from environment PUSHWIRE_DEFAULT_TTL)"}},
	}
	for _, c := range cases {
		cfg, fs, sources, err := load(t, c.args, c.env)
		if err != nil {
			t.Fatalf("%v %v: load: %v", c.args, c.env, err)
		}
		err = cfg.Validate()
		if err == nil {
			t.Fatalf("%v %v: Validate accepted it", c.args, c.env)
		}
		got := withSources(err, fs, sources).Error()
		for _, want := range c.want {
			if !strings.Contains(got, want) {
				t.Errorf("%v %v: %q; want it to contain %q", c.args, c.env, got, want)
			}
		}
	}
	// server.New's own checks follow the same rule.
	cfg, fs, sources, _ := load(t, nil, map[string]string{"PUSHWIRE_NODE_ID": "no spaces allowed"})
	if _, err := server.New(*cfg); err == nil {
		t.Fatal("server.New accepted node id \"no spaces allowed\"")
	} else if got, want := withSources(err, fs, sources).Error(), "(node-id from environment PUSHWIRE_NODE_ID)"; !strings.Contains(got, want) {
		t.Errorf("server.New: %q; want it to contain %q", got, want)
	}
	// An error that names no setting is left as it is.
	if got := withSources(io.ErrUnexpectedEOF, fs, sources); got.Error() != io.ErrUnexpectedEOF.Error() {
		t.Errorf("withSources(%v) = %v", io.ErrUnexpectedEOF, got)
	}
}
