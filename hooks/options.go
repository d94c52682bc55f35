package hooks

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"
)

// Options configures a Sender. Zero values take the defaults named.
type Options struct {
	URL      string        // --hook-url, http:// or https://
	Queue    int           // events held at most while the hook is slow or down; past it new events are dropped and counted. 0 = 65536
	MaxBatch int           // events per POST at most. 0 = 1000
	Interval time.Duration // longest a queued event waits before a POST starts (when the hook is healthy). 0 = 100ms
	Timeout  time.Duration // per POST. 0 = 5s
	Logger   *slog.Logger  // nil = slog.Default()
}

func (o *Options) fill() {
	if o.Queue <= 0 {
		o.Queue = 65536
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	// A batch larger than the queue could never fill: the queue is the real limit.
	o.MaxBatch = min(o.MaxBatch, o.Queue)
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// hookURL is a validated --hook-url.
type hookURL struct {
	addr   string // host:port to dial, the scheme's port when the URL names none
	tls    bool
	logged string // the URL with any password replaced, for logs
}

// parseURL accepts only an absolute http or https URL with a host. Its errors read after
// "--hook-url: " and never repeat a password the URL may carry.
func parseURL(raw string) (hookURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, password included
		}
		return hookURL{}, fmt.Errorf("not a URL: %w", err)
	}
	shown := raw
	if _, ok := u.User.Password(); ok {
		shown = u.Redacted()
	}
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	default:
		return hookURL{}, fmt.Errorf("%q: want an http:// or https:// URL", shown)
	}
	if u.Hostname() == "" {
		return hookURL{}, fmt.Errorf("%q: no host", shown)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return hookURL{
		addr:   net.JoinHostPort(u.Hostname(), port),
		tls:    u.Scheme == "https",
		logged: shown,
	}, nil
}
