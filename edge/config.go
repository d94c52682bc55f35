package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

// Config holds every setting of a node. Zero values are not defaults: start
// from DefaultConfig and override. Flag names (cmd/pushwire/flags.go) are the SPEC's.
type Config struct {
	Listen        string // edge listener: subscribers, /ack
	APIListen     string // api listener: publish, admin
	ClusterListen string // node-to-node link listener (cluster mode)
	TLSListen     string // edge over TLS (server/tls.go); empty = none
	TLSCert       string // PEM certificate chain file for TLSListen
	TLSKey        string // PEM private key file for TLSListen
	Redis         string // redis URL; empty = standalone
	NodeID        string // this node's id; empty = random
	Advertise     string // host:port peers dial for the link
	NodeTTL       time.Duration
	// MemStore, without Redis, puts the node in an in-process cluster: nodes
	// given the same store find each other in it and forward over links
	// (tests, embedding). nil: a store of the node's own, i.e. standalone.
	MemStore *cluster.MemStore

	AllowedOrigins []string // "*" alone means any origin
	Heartbeat      time.Duration
	PollTimeout    time.Duration
	PollBuffer     int // messages kept per user/topic for long-poll clients between requests
	Retry          time.Duration

	MaxMessageBytes int
	MaxBatchBytes   int
	TopicHistory    int
	StoreMessages   int // QoS 1 messages kept per user (standalone store)
	StoreBytes      int // QoS 1 bytes kept in all (standalone store)
	DefaultTTL      time.Duration

	IdempotencyWindow time.Duration // how long a publish's Idempotency-Key keeps its answer
	IdempotencyKeys   int           // keys kept at most in memory (standalone); the oldest go first

	MaxConns         int
	MaxConnsPerIP    int
	MaxConnsPerUser  int    // streams per user at most, cluster-wide; 0 = unlimited (userpolicy/admission.go)
	UserConnPolicy   string // past MaxConnsPerUser: "oldest-out" (kick the oldest) or "refuse" (409)
	HeaderTimeout    time.Duration
	MaxHeaderBytes   int
	WriteBufferLimit int
	SendBufferBytes  int
	H2MaxStreams     int     // concurrent streams per HTTP/2 connection; more are refused (REFUSED_STREAM)
	PublishRate      float64 // publishes per second per api client; 0 = unlimited
	APIToken         string

	// Subscriber auth and lifecycle webhooks (SPEC §6): see subscribe/auth.go, hooks.go.
	AuthURL     string        // callback asked about each subscribe; empty = none
	AuthTimeout time.Duration // no answer within it: the client gets 502
	JWTSecret   string        // HS256 secret for subscriber tokens; empty = none
	TopicACL    []string      // templates like "user.{user}.*"
	HookURL     string        // receives connect/disconnect events; empty = none
	HookQueue   int           // events held while the hook is slow or down

	// Stream lifetime (subscribe/lifetime.go): a stream older than MaxConnAge (0 = no
	// limit; each stream's own limit is drawn in [0.9, 1]×MaxConnAge) gets the
	// reconnect frame and ends; one whose auth expires gets the refresh frame
	// RefreshBefore its expiry and ends at it.
	MaxConnAge    time.Duration
	RefreshBefore time.Duration

	Drain    time.Duration
	Loops    int
	LogLevel string
	Logger   *slog.Logger
}

// DefaultConfig returns the settings a node runs with when nothing is given.
func DefaultConfig() Config {
	return Config{
		Listen:           ":8080",
		APIListen:        "127.0.0.1:8081",
		ClusterListen:    ":7946",
		NodeTTL:          15 * time.Second,
		AllowedOrigins:   []string{"*"},
		Heartbeat:        25 * time.Second,
		PollTimeout:      30 * time.Second,
		PollBuffer:       32,
		Retry:            2 * time.Second,
		MaxMessageBytes:  64 << 10,
		MaxBatchBytes:    4 << 20,
		StoreMessages:    1000,
		StoreBytes:       64 << 20,
		DefaultTTL:       24 * time.Hour,
		HeaderTimeout:    10 * time.Second,
		MaxHeaderBytes:   8 << 10,
		WriteBufferLimit: 256 << 10,
		SendBufferBytes:  32 << 10,
		H2MaxStreams:     100,
		UserConnPolicy:   policyOldestOut,
		AuthTimeout:      3 * time.Second,
		HookQueue:        65536,
		Drain:            30 * time.Second,
		LogLevel:         "info",

		RefreshBefore: 30 * time.Second,

		// Idempotency-Key (publish/idempotency.go)
		IdempotencyWindow: 5 * time.Minute,
		IdempotencyKeys:   100_000,
	}
}

// Validate reports the first setting that cannot work, naming it as its flag.
func (c *Config) Validate() error {
	var errs []error
	positive := func(name string, v time.Duration) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be a positive duration, got %v", name, v))
		}
	}
	atLeast := func(name string, v, min int) {
		if v < min {
			errs = append(errs, fmt.Errorf("--%s must be at least %d, got %d", name, min, v))
		}
	}
	positive("heartbeat", c.Heartbeat)
	positive("poll-timeout", c.PollTimeout)
	positive("header-timeout", c.HeaderTimeout)
	positive("node-ttl", c.NodeTTL)
	positive("retry", c.Retry)
	positive("default-ttl", c.DefaultTTL)
	positive("auth-timeout", c.AuthTimeout)
	positive("idempotency-window", c.IdempotencyWindow)
	atLeast("idempotency-keys", c.IdempotencyKeys, 1)
	atLeast("hook-queue", c.HookQueue, 1)
	if len(c.TopicACL) > 0 && c.AuthURL == "" && c.JWTSecret == "" {
		errs = append(errs, errors.New("--topic-acl needs --auth-url or --jwt-secret: without them the user is whatever the client says"))
	}
	if c.MaxConnAge < 0 || c.RefreshBefore < 0 {
		errs = append(errs, fmt.Errorf("--max-conn-age and --refresh-before must not be negative, got %v and %v", c.MaxConnAge, c.RefreshBefore))
	}
	if c.Drain < 0 {
		errs = append(errs, fmt.Errorf("--drain must not be negative, got %v", c.Drain))
	}
	atLeast("max-message-bytes", c.MaxMessageBytes, 1)
	atLeast("max-batch-bytes", c.MaxBatchBytes, c.MaxMessageBytes)
	atLeast("max-header-bytes", c.MaxHeaderBytes, 512)
	atLeast("write-buffer-limit", c.WriteBufferLimit, 4096)
	atLeast("h2-max-streams", c.H2MaxStreams, 1)
	atLeast("topic-history", c.TopicHistory, 0)
	atLeast("poll-buffer", c.PollBuffer, 1)
	atLeast("store-messages", c.StoreMessages, 1)
	atLeast("store-bytes", c.StoreBytes, c.MaxMessageBytes)
	atLeast("max-conns", c.MaxConns, 0)
	atLeast("max-conns-per-ip", c.MaxConnsPerIP, 0)
	atLeast("max-conns-per-user", c.MaxConnsPerUser, 0)
	if c.UserConnPolicy != policyOldestOut && c.UserConnPolicy != PolicyRefuse {
		errs = append(errs, fmt.Errorf("--user-conn-policy must be oldest-out or refuse, got %q", c.UserConnPolicy))
	}
	atLeast("loops", c.Loops, 0)
	if c.PublishRate < 0 {
		errs = append(errs, fmt.Errorf("--publish-rate must not be negative, got %v", c.PublishRate))
	}
	if len(c.AllowedOrigins) == 0 {
		errs = append(errs, errors.New("--allowed-origins must name at least one origin or *"))
	}
	if (c.Listen == "" && c.TLSListen == "") || c.APIListen == "" {
		errs = append(errs, errors.New("--api-listen and --listen or --tls-listen must be set"))
	}
	errs = append(errs, c.validateTLS()...)
	return errors.Join(errs...)
}

// validateTLS checks the TLS settings hang together.
func (c *Config) validateTLS() []error {
	if c.TLSListen == "" {
		return nil
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return []error{errors.New("--tls-listen needs --tls-cert and --tls-key")}
	}
	return nil
}

// The values of --user-conn-policy; oldest-out is the default.
const (
	policyOldestOut = "oldest-out"
	PolicyRefuse    = "refuse"
)
