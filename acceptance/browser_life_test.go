package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// lifePage holds an EventSource at %[1]s with token %[3]s, resumed from
// message id %[2]s (?since=, as a page cannot set Last-Event-ID on its first
// request). It records the gap event and the messages; on the refresh event
// it fetches a new token from its own origin, closes the stream and opens
// another with the new token from the last id it had, as a page would; it
// posts back once the new stream brought the next message.
const lifePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>pushwire gap and refresh test</title></head>
<body><script>
const result = {gap: "", gapBeforeMessages: false, pushes: [], refresh: "", after: "", errors: []};
function post() {
  fetch("/result", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(result)});
}
let lastId = "", streams = 0;
function open(token, since) {
  const stream = ++streams;
  const es = new EventSource(%[1]q + "/sub?topic=browser-life&format=sse&since=" + since + "&token=" + token, {withCredentials: true});
  es.addEventListener("gap", (e) => { result.gap = e.data; result.gapBeforeMessages = result.pushes.length === 0; });
  es.addEventListener("message", (e) => {
    if (stream === 1 && result.refresh !== "") return; // the old stream, closing: the next resumes from lastId
    lastId = e.lastEventId;
    if (stream === 1) { result.pushes.push(e.data); return; }
    result.after = e.data; es.close(); post();
  });
  es.addEventListener("refresh", async (e) => {
    result.refresh = e.data;
    const next = await (await fetch("/token")).text();
    es.close();
    open(next, lastId);
  });
  es.onerror = () => { if (es.readyState !== EventSource.CLOSED || result.refresh === "") result.errors.push("EventSource error, readyState " + es.readyState); };
}
open(%[3]q, %[2]q);
window.onerror = (msg) => { result.errors.push("onerror: " + msg); post(); };
</script></body></html>
`

// TestBrowserEventSourceGapAndRefresh: headless Chromium resumes an
// EventSource from an id older than what --topic-history 2 still holds and
// gets the "gap" event before the two kept messages; its token ends 4s
// later, so the "refresh" event comes (--refresh-before 2s) with the exp;
// the page gets a new token, reconnects from its last id and receives the
// message published after it asked.
func TestBrowserEventSourceGapAndRefresh(t *testing.T) {
	t.Parallel()
	asked := make(chan struct{}, 1)
	var body atomic.Pointer[string] // set once the node runs; read when Chromium asks
	var exp atomic.Int64            // the first token's, signed as Chromium asks for the page: 4s ahead
	claims := func(exp int64) jwt.MapClaims {
		return jwt.MapClaims{"sub": "b", "topics": []string{"browser-life"}, "exp": exp}
	}
	page, results := startPageServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			exp.Store(time.Now().Unix() + 4)
			io.WriteString(w, strings.Replace(*body.Load(), "TOKEN", signToken(t, jwtSecret, claims(exp.Load())), 1))
		case "/token":
			io.WriteString(w, signToken(t, jwtSecret, claims(time.Now().Add(time.Hour).Unix())))
			select {
			case asked <- struct{}{}:
			default:
			}
		default:
			return false
		}
		return true
	})
	n := startNode(t, "--topic-history", "2", "--jwt-secret", jwtSecret, "--refresh-before", "2s",
		"--heartbeat", "2s", "--allowed-origins", page.URL)
	ids := n.publishIDs("browser-life", "g1", "g2", "g3", "g4")
	html := fmt.Sprintf(lifePage, "http://"+n.edge, ids[0], "TOKEN")
	body.Store(&html)
	startChromium(t, page.URL+"/")

	select {
	case <-asked: // the page got the refresh event: what comes now reaches its next stream
	case raw := <-results:
		t.Fatalf("the page reported %s before asking for a new token", raw)
	case <-time.After(60 * time.Second):
		t.Fatalf("the page asked for no new token within 60s")
	}
	n.mustPub(200, "topic/browser-life", "after-refresh")
	var r struct {
		Gap               string
		GapBeforeMessages bool
		Pushes            []string
		Refresh, After    string
		Errors            []string
	}
	pageResult(t, results, &r)
	var gap, refresh control
	json.Unmarshal([]byte(r.Gap), &gap)
	json.Unmarshal([]byte(r.Refresh), &refresh)
	if gap.Protocol != 3 || gap.Cmd != "gap" || gap.Since != ids[0] || !r.GapBeforeMessages {
		t.Errorf("EventSource gap event %q (before the messages: %v); want {\"protocol\":3,...,\"cmd\":\"gap\",\"since\":%q} first", r.Gap, r.GapBeforeMessages, ids[0])
	}
	if strings.Join(r.Pushes, ",") != "g3,g4" {
		t.Errorf("EventSource messages after the gap = %q; want g3, g4", r.Pushes)
	}
	if refresh.Protocol != 3 || refresh.Cmd != "refresh" || refresh.Exp != exp.Load()*1000 {
		t.Errorf("EventSource refresh event %q; want {\"protocol\":3,...,\"cmd\":\"refresh\",\"exp\":%d}", r.Refresh, exp.Load()*1000)
	}
	if r.After != "after-refresh" {
		t.Errorf("the stream opened with the new token got %q; want after-refresh", r.After)
	}
	if len(r.Errors) > 0 {
		t.Errorf("page errors: %q", r.Errors)
	}
}
