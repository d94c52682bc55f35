package perf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Kind is the server software behind a target; it fixes the URL shapes.
type Kind uint8

const (
	// KindPushwire speaks ../SPEC.md: GET /sub?user=|topic=, POST /pub/conn|user|topic/<x>, POST /pub batch.
	KindPushwire Kind = iota
	// KindNchan is nginx+Nchan with ../shared/peers/nchan: GET /sub/<ch>, POST /pub/<ch>.
	KindNchan
	// KindCentrifugo is Centrifugo v6 with ../shared/peers/centrifugo: GET
	// /connection/uni_sse?cf_connect={"subs":{"<ch>":{}}}, POST /api/publish with
	// {"channel":"<ch>","data":"<payload>"} and X-API-Key.
	KindCentrifugo
	// KindFloor is the bare write loop of floor.go: GET /sub/<id>, POST /pub/<id>
	// (unicast to the subscriber whose path ended in the same number) or /pub/all.
	KindFloor
)

// kindNames are the flag values, by Kind.
var kindNames = [...]string{KindPushwire: "pushwire", KindNchan: "nchan", KindCentrifugo: "centrifugo", KindFloor: "floor"}

// CentrifugoAPIKey is http_api.key of ../shared/peers/centrifugo/config.json.
const CentrifugoAPIKey = "peerbench-api-key"

// ParseKind maps a flag value to a Kind.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if s == name {
			return Kind(k), nil
		}
	}
	return 0, errors.New("perf: unknown target " + s + " (want pushwire, nchan, centrifugo or floor)")
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "pushwire"
}

// Target is one server under test: where subscribers dial, where publishers post, and
// which processes to sample for RSS and CPU.
type Target struct {
	Kind Kind `json:"kind"`
	// Edge is the host:port subscribers connect to.
	Edge string `json:"edge"`
	// API is the host:port publishes go to (Nchan: the same as Edge; cluster: another node).
	API string `json:"api"`
	// Format is the subscriber stream format asked for.
	Format Format `json:"format"`
	// ByUser makes pushwire unicast publish to /pub/user/<id> instead of /pub/conn/<key>.
	ByUser bool `json:"by_user,omitempty"`
	// Pids are the server processes sampled (nginx: the worker, not the master). May be empty.
	Pids []int `json:"pids,omitempty"`
	// TLS makes subscribers connect to Edge over TLS (publishes stay plaintext to API;
	// tlsbridge.go).
	TLS bool `json:"tls,omitempty"`
	// H2Streams > 0 holds the subscribers as HTTP/2 streams (h2c with prior knowledge, or
	// with TLS h2 by ALPN), this many on each connection (h2worker.go); 0 is one HTTP/1.1 connection each.
	H2Streams int `json:"h2_streams,omitempty"`
}

// AppendSubscribe appends the raw HTTP/1.1 request that opens a subscriber stream. id is a
// channel (Nchan), a user (pushwire unicast) or a topic (pushwire, shared=true).
func (t *Target) AppendSubscribe(dst []byte, id string, shared bool) []byte {
	dst = t.AppendSubscribePath(dst, id, shared)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Edge...)
	switch t.Format {
	case FormatSSE:
		dst = append(dst, "\r\nAccept: text/event-stream"...)
	case FormatChunk:
		dst = append(dst, "\r\nTE: chunked"...)
	}
	return append(dst, "\r\n\r\n"...)
}

// AppendSubscribePath appends the target (path and query) of the subscribe request
// for id, with the method before it ("GET "): HTTP/2 streams take it from here.
func (t *Target) AppendSubscribePath(dst []byte, id string, shared bool) []byte {
	switch t.Kind {
	case KindNchan, KindFloor:
		dst = append(dst, "GET /sub/"...)
		dst = append(dst, id...)
	case KindCentrifugo:
		// cf_connect={"subs":{"<id>":{}}}, URL-encoded; ids are letters and digits.
		dst = append(dst, "GET /connection/uni_sse?cf_connect=%7B%22subs%22%3A%7B%22"...)
		dst = append(dst, id...)
		dst = append(dst, "%22%3A%7B%7D%7D%7D"...)
	default:
		dst = append(dst, "GET /sub?format="...)
		dst = append(dst, t.Format.String()...)
		if shared {
			dst = append(dst, "&topic="...)
		} else {
			dst = append(dst, "&user="...)
		}
		dst = append(dst, id...)
	}
	return dst
}

// AppendPublishPath appends the path of a single publish to subscriber id (key is its
// Push-Conn key, used by pushwire unless ByUser) or, with shared, to topic id.
func (t *Target) AppendPublishPath(dst []byte, id, key string, shared bool) []byte {
	switch {
	case t.Kind == KindNchan:
		return append(append(dst, "/pub/"...), id...)
	case t.Kind == KindCentrifugo:
		return append(dst, "/api/publish"...)
	case t.Kind == KindFloor && shared:
		return append(dst, "/pub/all"...)
	case t.Kind == KindFloor:
		return append(append(dst, "/pub/"...), id...)
	}
	switch {
	case shared:
		return append(append(dst, "/pub/topic/"...), id...)
	case t.ByUser || key == "":
		return append(append(dst, "/pub/user/"...), id...)
	}
	return append(append(dst, "/pub/conn/"...), key...)
}

// AppendBatchLine appends one NDJSON line of a pushwire batch publish (POST /pub).
func (t *Target) AppendBatchLine(dst []byte, id, key string, shared bool, payload []byte) []byte {
	dst = append(dst, `{"to":"`...)
	switch {
	case shared:
		dst = append(append(dst, "topic:"...), id...)
	case t.ByUser || key == "":
		dst = append(append(dst, "user:"...), id...)
	default:
		dst = append(append(dst, "conn:"...), key...)
	}
	dst = append(dst, `","data":"`...)
	dst = append(dst, payload...) // stamps are plain ASCII: no escaping needed
	return append(dst, "\"}\n"...)
}

// AppendPublishBody appends the body of a single publish to id: the stamp of AppendStamp
// (seq, mono, size). Only Centrifugo wraps it, in a JSON API command whose data is the
// stamp as a JSON string.
func (t *Target) AppendPublishBody(dst []byte, id string, seq uint64, mono int64, size int) []byte {
	if t.Kind != KindCentrifugo {
		return AppendStamp(dst, seq, mono, size)
	}
	dst = append(dst, `{"channel":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","data":"`...)
	dst = AppendStamp(dst, seq, mono, size) // plain ASCII: no escaping needed
	return append(dst, `"}`...)
}

// PublishContentType is the Content-Type of a single publish.
func (t *Target) PublishContentType() string {
	if t.Kind == KindCentrifugo {
		return "application/json"
	}
	return "text/plain"
}

// PublishOK reports whether a publish answer means the server took the message for
// delivery. Nchan answers 201 when subscribers got it and 202 when the channel had none;
// Centrifugo answers command errors with 200 and an "error" object.
func (t *Target) PublishOK(status int, body []byte) bool {
	switch t.Kind {
	case KindNchan:
		return status == 201
	case KindCentrifugo:
		return status == 200 && !bytes.Contains(body, []byte(`"error"`))
	}
	return status == 200
}

// Goroutines reads "goroutines" from pushwire's GET /stats; ok is false when the target is
// not pushwire, /stats fails, or the field is absent (SPEC §9 does not promise it).
func (t *Target) Goroutines() (n int64, ok bool) {
	if t.Kind != KindPushwire {
		return 0, false
	}
	var st map[string]json.RawMessage
	if err := getJSON("http://"+t.API+"/stats", &st); err != nil {
		return 0, false
	}
	raw, ok := st["goroutines"]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

func getJSON(url string, v any) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("perf: GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// RunID returns a prefix unique to this run, so channels from an earlier run (Nchan keeps
// the newest message and replays it to a new subscriber) never collide with this one.
func RunID() string {
	return "pb" + strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36)
}
