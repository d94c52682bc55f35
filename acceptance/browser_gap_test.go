package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gapPage resumes an EventSource at %[1]s from message id %[2]s (?since=,
// as a page cannot set Last-Event-ID on its first request) and posts back
// the gap event's data and the messages that follow it.
const gapPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pushwire gap test</title></head>
<body><script>
const result = {gap: "", gapBeforeMessages: false, pushes: [], errors: []};
function post() {
  fetch("/result", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(result)});
}
const es = new EventSource(%[1]q + "/sub?topic=browser-gap&format=sse&since=" + %[2]q, {withCredentials: true});
es.addEventListener("gap", (e) => { result.gap = e.data; result.gapBeforeMessages = result.pushes.length === 0; });
es.addEventListener("message", (e) => {
  result.pushes.push(e.data);
  if (result.pushes.length === 2) { es.close(); post(); }
});
es.onerror = () => { result.errors.push("EventSource error, readyState " + es.readyState); };
window.onerror = (msg) => { result.errors.push("onerror: " + msg); post(); };
</script></body></html>
`

// TestBrowserEventSourceGap: headless Chromium resumes an EventSource from
// an id older than what --topic-history 2 still holds and gets the "gap"
// event before the two kept messages.
func TestBrowserEventSourceGap(t *testing.T) {
	t.Parallel()
	var body atomic.Pointer[string] // set once the node runs; read when Chromium asks
	page, results := startPageServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/" {
			return false
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, *body.Load())
		return true
	})
	n := startNode(t, "--topic-history", "2", "--allowed-origins", page.URL)
	ids := n.publishIDs("browser-gap", "g1", "g2", "g3", "g4")
	html := fmt.Sprintf(gapPage, "http://"+n.edge, ids[0])
	body.Store(&html)
	startChromium(t, page.URL+"/")

	var r struct {
		Gap               string
		GapBeforeMessages bool
		Pushes            []string
		Errors            []string
	}
	pageResult(t, results, &r)
	var gap struct {
		Protocol   int
		Cmd, Since string
	}
	json.Unmarshal([]byte(r.Gap), &gap)
	if gap.Protocol != 3 || gap.Cmd != "gap" || gap.Since != ids[0] || !r.GapBeforeMessages {
		t.Errorf("EventSource gap event %q (before the messages: %v); want {\"protocol\":3,...,\"cmd\":\"gap\",\"since\":%q} first", r.Gap, r.GapBeforeMessages, ids[0])
	}
	if strings.Join(r.Pushes, ",") != "g3,g4" {
		t.Errorf("EventSource messages after the gap = %q; want g3, g4", r.Pushes)
	}
	if len(r.Errors) > 0 {
		t.Errorf("page errors: %q", r.Errors)
	}
}

// startPageServer serves a test page's origin: what serve answers (it
// reports whether it did), and POST /result, whose first body goes to
// results; anything else is 404. It stops when the test ends.
func startPageServer(t *testing.T, serve func(http.ResponseWriter, *http.Request) bool) (*httptest.Server, <-chan string) {
	results := make(chan string, 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case serve(w, r):
		case r.URL.Path == "/result":
			b, _ := io.ReadAll(r.Body)
			select {
			case results <- string(b):
			default:
			}
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)
	return page, results
}

// pageResult waits up to a minute for the page's result and decodes it into v.
func pageResult(t *testing.T, results <-chan string, v any) {
	t.Helper()
	select {
	case raw := <-results:
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			t.Fatalf("page result %q: %v", raw, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the page reported nothing within 60s")
	}
}
