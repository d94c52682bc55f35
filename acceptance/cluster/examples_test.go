package cluster_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// examplesHarness frames an example page (same origin, so the harness can
// read its window.pushwire state) and posts that state to /state every 100 ms.
const examplesHarness = `<!doctype html><html><body>
<iframe id="f" src="%s"></iframe>
<script>
setInterval(() => {
  let s;
  try { s = document.getElementById("f").contentWindow.pushwire; } catch (e) { s = {errors: ["harness: " + e]}; }
  if (s) fetch("/state", {method: "POST", body: JSON.stringify(s)});
}, 100);
</script></body></html>`

// pageState is an example page's window.pushwire.
type pageState struct {
	Status   string
	Conn     string
	Connects []struct{ Edge, Since string }
	Messages []struct {
		ID    string
		Event string
		Data  json.RawMessage
	}
	Controls       []string
	Since          string
	Errors         []string
	ResendsDropped int
}

// browserPage serves examples/<file> and its harness and runs headless
// Chromium on it; state returns the page's latest reported state.
type browserPage struct {
	t     *testing.T
	mu    sync.Mutex
	last  pageState
	raw   string
	seen  bool
	state func() pageState
}

func openExample(t *testing.T, file, query string) *browserPage {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required for the examples test (Debian package chromium): %v", err)
	}
	html, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	p := &browserPage{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/" + file:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(html)
		case "/harness":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, examplesHarness, "/"+file+"?"+query)
		case "/state":
			b, _ := io.ReadAll(r.Body)
			var s pageState
			if err := json.Unmarshal(b, &s); err == nil {
				p.mu.Lock()
				p.last, p.raw, p.seen = s, string(b), true
				p.mu.Unlock()
			}
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	browser := exec.Command(chromiumPath, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), srv.URL+"/harness")
	var out strings.Builder
	browser.Stdout, browser.Stderr = &out, &out
	if err := browser.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		browser.Process.Kill()
		browser.Wait()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("page state: %s\nchromium output:\n%s", p.raw, out.String())
			p.mu.Unlock()
		}
	})
	return p
}

// await waits until cond holds for the page's state and returns that state.
func (p *browserPage) await(within time.Duration, what string, cond func(s pageState) bool) pageState {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		p.mu.Lock()
		s, seen := p.last, p.seen
		p.mu.Unlock()
		if seen && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the page did not get to %s within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExamplePages runs examples/ndjson-fetch.html and examples/eventsource.html
// in headless Chromium against a two-node cluster: the page receives a QoS 1
// message published through the other node; node a drains (SIGTERM), its
// reconnect frame makes the page reconnect to node b with since=<last id>,
// and a message published meanwhile arrives there, once, with no loss and
// the resent first message dropped as a duplicate.
func TestExamplePages(t *testing.T) {
	for _, file := range []string{"ndjson-fetch.html", "eventsource.html"} {
		t.Run(file, func(t *testing.T) { examplePage(t, file) })
	}
}

func examplePage(t *testing.T, file string) {
	cl := startCluster(t, 2, 15*time.Second, "--drain", "3s", "--retry", "300ms")
	a, b := cl.nodes[0], cl.nodes[1]
	q := url.Values{"edge": {"http://" + a.edge, "http://" + b.edge}, "user": {"u42"}}
	p := openExample(t, file, q.Encode())
	s := p.await(60*time.Second, "registered", func(s pageState) bool { return s.Conn != "" })
	if !strings.HasSuffix(s.Conn, ".a") {
		t.Fatalf("page conn %q; want a key of node a (the first edge)", s.Conn)
	}

	qos1 := []string{"Push-QoS", "1", "Content-Type", "application/json"}
	first := b.mustPub("user/u42", `{"n":1}`, 1, 1, qos1...)
	p.await(20*time.Second, "the first message", func(s pageState) bool { return len(s.Messages) == 1 })

	a.proc.cmd.Process.Signal(syscall.SIGTERM)
	p.await(20*time.Second, "the reconnect control frame", func(s pageState) bool {
		return len(s.Controls) > 0 && s.Controls[0] == "reconnect"
	})
	second := b.pub("user/u42", `{"n":2}`, qos1...)
	if second.status != 200 && second.status != 202 {
		t.Fatalf("publish during the reconnect = %v; want 200 or 202", second)
	}
	s = p.await(30*time.Second, "the second message on node b", func(s pageState) bool { return len(s.Messages) >= 2 })

	var ids []string
	for _, m := range s.Messages {
		ids = append(ids, m.ID)
	}
	if want := []string{first.ID, second.ID}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("page messages %v; want %v (each once, in order)", ids, want)
	}
	if string(s.Messages[1].Data) != `{"n":2}` {
		t.Errorf("second message data %s; want {\"n\":2}", s.Messages[1].Data)
	}
	if len(s.Connects) < 2 {
		t.Fatalf("page connects %+v; want a second one", s.Connects)
	}
	last := s.Connects[len(s.Connects)-1]
	if last.Edge != "http://"+b.edge || last.Since != first.ID {
		t.Errorf("reconnect %+v; want to http://%s with since %s", last, b.edge, first.ID)
	}
	if !strings.HasSuffix(s.Conn, ".b") {
		t.Errorf("page conn after the drain %q; want a key of node b", s.Conn)
	}
	if len(s.Errors) > 0 {
		t.Errorf("page errors: %q", s.Errors)
	}

	t.Logf("%s: connects %+v, controls %v, resends dropped %d", file, s.Connects, s.Controls, s.ResendsDropped)
}
