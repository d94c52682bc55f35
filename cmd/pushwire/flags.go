// Flags and --config: the only place a setting is named on the command line;
// server sees nothing but the Config they fill.

package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/pushwire/pushwire/server"
)

// registerFlags binds every setting of c to fs under the SPEC's flag names,
// with c's current values as the defaults that -h shows.
func registerFlags(fs *flag.FlagSet, c *server.Config) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "edge listener: subscribers and /ack")
	fs.StringVar(&c.APIListen, "api-listen", c.APIListen, "api listener: publish, admin, stats, metrics, pprof")
	fs.StringVar(&c.ClusterListen, "cluster-listen", c.ClusterListen, "node-to-node link listener (cluster mode)")
	fs.StringVar(&c.TLSListen, "tls-listen", c.TLSListen, "edge listener over TLS 1.2/1.3 (empty = none; --listen '' leaves only this one)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate chain for --tls-listen (leaf first); reloaded on SIGHUP")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key for --tls-listen; reloaded on SIGHUP")
	fs.StringVar(&c.Redis, "redis", c.Redis, "redis URL for cluster mode, e.g. redis://127.0.0.1:6379/0, or a Redis Cluster's masters redis://h1:7000,h2:7000,h3:7000, or Sentinel redis-sentinel://s1:26379,s2:26379/mymaster; ?wait_replicas=N makes QoS 1 writes WAIT for N replicas; empty = standalone")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's id (empty = random at start)")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "host:port peers dial for the cluster link (empty = cluster-listen)")
	fs.DurationVar(&c.NodeTTL, "node-ttl", c.NodeTTL, "how long a silent node's directory entries live")
	fs.Var((*originList)(&c.AllowedOrigins), "allowed-origins", "CORS origins allowed to subscribe: * or a comma-separated list")
	fs.DurationVar(&c.Heartbeat, "heartbeat", c.Heartbeat, "heartbeat interval on idle streams")
	fs.DurationVar(&c.PollTimeout, "poll-timeout", c.PollTimeout, "how long a long-poll waits before answering 204")
	fs.IntVar(&c.PollBuffer, "poll-buffer", c.PollBuffer, "messages kept per user/topic for long-poll clients between requests")
	fs.DurationVar(&c.Retry, "retry", c.Retry, "reconnect delay advised to clients (SSE retry:, reconnect frames)")
	fs.Var((*byteSize)(&c.MaxMessageBytes), "max-message-bytes", "largest publish body (bytes, or with KiB/MiB)")
	fs.Var((*byteSize)(&c.MaxBatchBytes), "max-batch-bytes", "largest batch POST /pub body")
	fs.IntVar(&c.TopicHistory, "topic-history", c.TopicHistory, "messages per topic replayed to a subscriber reconnecting with since/Last-Event-ID (0 = off)")
	fs.IntVar(&c.StoreMessages, "store-messages", c.StoreMessages, "QoS 1 messages kept per user until acknowledged")
	fs.Var((*byteSize)(&c.StoreBytes), "store-bytes", "QoS 1 bytes kept in memory for all users (standalone store)")
	fs.DurationVar(&c.DefaultTTL, "default-ttl", c.DefaultTTL, "how long a stored message waits when Push-TTL is not given")
	fs.DurationVar(&c.IdempotencyWindow, "idempotency-window", c.IdempotencyWindow, "how long a publish's Idempotency-Key keeps its answer: a repeat within it is not delivered again")
	fs.IntVar(&c.IdempotencyKeys, "idempotency-keys", c.IdempotencyKeys, "idempotency keys kept in memory (standalone; cluster mode keeps them in Redis): when full, the oldest go first, counted")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "edge connections held at most (0 = the open-files limit)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "edge connections per client IP (0 = unlimited)")
	fs.IntVar(&c.MaxConnsPerUser, "max-conns-per-user", c.MaxConnsPerUser, "streams one user may hold across the cluster (0 = unlimited); see --user-conn-policy")
	fs.StringVar(&c.UserConnPolicy, "user-conn-policy", c.UserConnPolicy, "past --max-conns-per-user: oldest-out (the user's oldest stream gets the kicked frame and is closed) or refuse (the new subscribe is answered 409)")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", c.HeaderTimeout, "time allowed to send a whole request (slowloris guard)")
	fs.Var((*byteSize)(&c.MaxHeaderBytes), "max-header-bytes", "largest request head")
	fs.Var((*byteSize)(&c.WriteBufferLimit), "write-buffer-limit", "pending output per connection before it is cut as a slow consumer")
	fs.IntVar(&c.H2MaxStreams, "h2-max-streams", c.H2MaxStreams, "concurrent streams (subscribers) per HTTP/2 connection; more are refused with RST_STREAM REFUSED_STREAM")
	fs.Var((*byteSize)(&c.SendBufferBytes), "send-buffer", "kernel send buffer per edge socket (SO_SNDBUF)")
	fs.Float64Var(&c.PublishRate, "publish-rate", c.PublishRate, "publishes per second per api client IP, token bucket (0 = unlimited)")
	fs.StringVar(&c.APIToken, "api-token", c.APIToken, "require Authorization: Bearer <token> on the api listener")
	fs.StringVar(&c.AuthURL, "auth-url", c.AuthURL, "ask this URL (GET, with the client's Cookie, Authorization, X-Forwarded-For, X-Original-URI) about each subscribe")
	fs.DurationVar(&c.AuthTimeout, "auth-timeout", c.AuthTimeout, "no answer from --auth-url within it of the subscribe's arrival (waiting for a free worker included): the subscriber gets 502")
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 secret of subscriber tokens (Authorization: Bearer or ?token=; claims sub, topics, exp)")
	fs.Var((*templateList)(&c.TopicACL), "topic-acl", "topics a user may subscribe to, e.g. user.{user}.* (comma-separated or repeated; needs --auth-url or --jwt-secret)")
	fs.StringVar(&c.HookURL, "hook-url", c.HookURL, "POST batched NDJSON connect/disconnect events of streams here")
	fs.IntVar(&c.HookQueue, "hook-queue", c.HookQueue, "hook events held at most while --hook-url is slow or down (more are dropped and counted)")
	fs.DurationVar(&c.MaxConnAge, "max-conn-age", c.MaxConnAge, "a stream older than this (each stream's own limit drawn in [0.9, 1]× it) gets the reconnect frame and is closed, spread over time (0 = no limit)")
	fs.DurationVar(&c.RefreshBefore, "refresh-before", c.RefreshBefore, "a stream whose token (exp) or auth callback ttl ends within this gets the refresh frame; it is closed when it ends")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "time SIGTERM/SIGINT allows streams to close before exit")
	fs.IntVar(&c.Loops, "loops", c.Loops, "event loops (0 = GOMAXPROCS)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
}

// Where a setting can come from, strongest first: the command line, a
// PUSHWIRE_<NAME> environment variable, the --config file, the default. Every
// source goes through the flag's own Set, so the parsing rules and errors are
// the flags' everywhere.

// actions are flags that do something rather than set something: they are
// taken from the command line only and --print-config does not print them.
var actions = map[string]bool{"print-config": true}

// envName is the environment variable of a setting: --max-conns is
// PUSHWIRE_MAX_CONNS.
func envName(name string) string {
	return "PUSHWIRE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// loadSettings applies the environment (through lookup, os.LookupEnv outside
// tests) and then the --config file (whose path may itself come from
// PUSHWIRE_CONFIG) to every setting of fs not given on the command line. It
// returns where each setting that is not a default came from ("flag --x",
// "environment PUSHWIRE_X", "file F line N"), for messages.
func loadSettings(fs *flag.FlagSet, lookup func(string) (string, bool)) (map[string]string, error) {
	sources := map[string]string{}
	fs.Visit(func(fl *flag.Flag) { sources[fl.Name] = "flag --" + fl.Name })
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		if err != nil || actions[fl.Name] || sources[fl.Name] != "" {
			return
		}
		key := envName(fl.Name)
		v, ok := lookup(key)
		if !ok {
			return
		}
		source := "environment " + key
		if e := fs.Set(fl.Name, v); e != nil {
			err = fmt.Errorf("%s from %s: %w", fl.Name, source, e)
			return
		}
		sources[fl.Name] = source
	})
	if err != nil {
		return nil, err
	}
	if path := fs.Lookup("config").Value.String(); path != "" {
		err = applyConfigFile(fs, path, sources)
	}
	return sources, err
}

// settingRef is a setting named in an error the server returns: its
// Validate, New and Start errors each start with the flag they are about
// ("--heartbeat must be a positive duration") and may name others.
var settingRef = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// withSources adds to each error of err (one, or several joined, as
// Config.Validate returns them) where the settings it names came from, as
// the parse errors say it: "--heartbeat must be a positive duration, got
// -1s (heartbeat from environment PUSHWIRE_HEARTBEAT)". A value no source
// gave is "the default".
func withSources(err error, fs *flag.FlagSet, sources map[string]string) error {
	parts := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		parts = joined.Unwrap()
	}
	out := make([]error, 0, len(parts))
	for _, e := range parts {
		var from []string
		seen := map[string]bool{}
		for _, m := range settingRef.FindAllStringSubmatch(e.Error(), -1) {
			name := m[1]
			if seen[name] || fs.Lookup(name) == nil || actions[name] {
				continue
			}
			seen[name] = true
			source := sources[name]
			if source == "" {
				source = "the default"
			}
			from = append(from, name+" from "+source)
		}
		if len(from) == 0 {
			out = append(out, e)
			continue
		}
		out = append(out, fmt.Errorf("%w (%s)", e, strings.Join(from, "; ")))
	}
	return errors.Join(out...)
}

// applyConfigFile reads "name value" or "name = value" lines (# starts a
// comment; surrounding double quotes are dropped, so "" is an empty value)
// and sets each named flag of fs, except the ones sources already has: the
// command line and the environment win over the file. It adds what it sets
// to sources.
func applyConfigFile(fs *flag.FlagSet, path string, sources map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	givenElsewhere := make(map[string]bool, len(sources))
	for name := range sources {
		givenElsewhere[name] = true
	}
	sc := bufio.NewScanner(f)
	for lineNo := 1; sc.Scan(); lineNo++ {
		at := fmt.Sprintf("file %s line %d", path, lineNo)
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		// The name ends at the first space or '=', so a value may hold '='
		// (a URL's query) and "name=value", "name = value", "name value" all read alike.
		end := strings.IndexAny(line, " \t=")
		if end <= 0 {
			return fmt.Errorf("%s: want \"name value\"", at)
		}
		name := strings.TrimPrefix(line[:end], "--")
		value := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[end:]), "="))
		if fs.Lookup(name) == nil || name == "config" || actions[name] {
			return fmt.Errorf("%s: unknown setting %q", at, name)
		}
		if givenElsewhere[name] {
			continue
		}
		if err := fs.Set(name, strings.Trim(value, `"`)); err != nil {
			return fmt.Errorf("%s from %s: %w", name, at, err)
		}
		sources[name] = at
	}
	return sc.Err()
}

// secrets are printed masked by --print-config; urls have their user info
// (a password) masked.
var (
	secrets = map[string]bool{"api-token": true, "jwt-secret": true}
	urls    = map[string]bool{"redis": true, "auth-url": true, "hook-url": true}
)

// printConfig writes every setting of fs with its effective value in the
// --config format, secrets masked, so the output can be fed back as a file.
func printConfig(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		if fl.Name == "config" || actions[fl.Name] {
			return
		}
		v := fl.Value.String()
		switch {
		case v == "":
		case secrets[fl.Name]:
			v = "***"
		case urls[fl.Name]:
			v = server.WithoutUserinfo(v)
		}
		// Quoted where the file reader would otherwise read it differently:
		// empty, around a space, or starting with the '=' a "name = value" line drops.
		if v == "" || strings.ContainsAny(v, " \t") || v[0] == '=' {
			v = `"` + v + `"`
		}
		fmt.Fprintf(w, "%s %s\n", fl.Name, v)
	})
}

// byteSize is an int flag that accepts plain bytes or a KiB/MiB/GiB suffix.
type byteSize int

func (b *byteSize) String() string {
	v := int(*b)
	switch {
	case v != 0 && v%(1<<20) == 0:
		return strconv.Itoa(v>>20) + "MiB"
	case v != 0 && v%(1<<10) == 0:
		return strconv.Itoa(v>>10) + "KiB"
	}
	return strconv.Itoa(v)
}

func (b *byteSize) Set(s string) error {
	v, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// parseSize parses "65536", "64KiB", "1MiB" or "1GiB".
func parseSize(s string) (int, error) {
	mult := 1
	num := strings.TrimSpace(s)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return 0, errors.New("want a size in bytes, optionally with KiB, MiB or GiB: " + strconv.Quote(s))
	}
	return v * mult, nil
}

// templateList is the --topic-acl flag: every use adds its comma-separated
// templates.
type templateList []string

func (t *templateList) String() string { return strings.Join(*t, ",") }

func (t *templateList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*t = append(*t, part)
		}
	}
	return nil
}

// originList is the --allowed-origins flag: "*" or comma-separated origins.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	if len(out) == 0 {
		return errors.New("want * or a comma-separated list of origins")
	}
	*o = out
	return nil
}
