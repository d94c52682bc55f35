package hooks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/hooks"
)

// TestNewRejectsURL: only absolute http(s) URLs with a host pass, and an error never repeats a
// password from the URL.
func TestNewRejectsURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, want string
	}{
		{"", "want an http:// or https:// URL"},
		{"/hook", "want an http:// or https:// URL"},
		{"127.0.0.1:8080/hook", "not a URL"},
		{"localhost:8080", "want an http:// or https:// URL"},
		{"ftp://example.com/hook", "want an http:// or https:// URL"},
		{"http://", "no host"},
		{"https:///hook", "no host"},
		{"http://:8080/hook", "no host"},
		{"http://user:secret@:80/hook", "no host"},
		{"http://user:secret@host:port/hook", "not a URL"},
		{"http://exa mple.com/", "not a URL"},
	} {
		s, err := hooks.New(hooks.Options{URL: tc.url, Logger: quiet()})
		if err == nil {
			closeWithin(t, s, time.Second)
			t.Errorf("New(%q) = nil error; want one containing %q", tc.url, tc.want)
			continue
		}
		t.Logf("--hook-url: %v", err)
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q) = %q; want it to contain %q and no password", tc.url, err, tc.want)
		}
	}
}

// TestNewAcceptsURL: http and https URLs, with or without port, path, query, user info, IPv6.
func TestNewAcceptsURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"http://127.0.0.1:1/hook",
		"https://hooks.example.com",
		"http://user:pw@[::1]:9/h?x=1",
	} {
		s, err := hooks.New(hooks.Options{URL: u, Logger: quiet()})
		if err != nil {
			t.Errorf("New(%q) = %v; want nil", u, err)
			continue
		}
		if err := closeWithin(t, s, 10*time.Second); err != nil {
			t.Errorf("Close of an unused Sender for %q = %v; want nil", u, err)
		}
	}
}
