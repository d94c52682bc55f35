package pubclient

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"
)

// Message is one publish.
type Message struct {
	// To is the address: "conn:<key>", "user:<id>", "topic:<name>" or "all".
	To string
	// Data is the payload, any bytes up to --max-message-bytes.
	Data []byte
	// ContentType is kept with the message; "application/json" with valid
	// JSON embeds Data as JSON in NDJSON frames (default: none sent, which
	// the server takes as text).
	ContentType string
	// Event names the message (Push-Event; SSE "event:").
	Event string
	// QoS 1 stores the message for an offline user until acknowledged.
	QoS int
	// TTL is how long a stored message waits (Push-TTL, whole seconds; 0:
	// the server's default).
	TTL time.Duration
	// IdempotencyKey makes retries safe: up to 128 of A-Z a-z 0-9 - _ . ~.
	IdempotencyKey string
}

// Result is a 200 or 202 answer (SPEC §4).
type Result struct {
	// Status is 200, or 202 when a QoS 1 message was stored for an offline user.
	Status int `json:"status"`
	// ID is the message id (increasing with publish time; a subscriber's since=).
	ID string `json:"id"`
	// Delivered counts the connections the message was written to.
	Delivered int `json:"delivered"`
	// Nodes counts the nodes that delivered it.
	Nodes int `json:"nodes"`
	// Stored says the message was stored (QoS 1, or topic history).
	Stored bool `json:"stored"`
	// Unreachable names nodes that may hold the target and were not reached.
	Unreachable []string `json:"unreachable"`
	// Duplicate says the idempotency key was used before: this is the first
	// answer again and nothing was delivered this time.
	Duplicate bool `json:"duplicate"`
}

// answer is a result line or answer body, success or error.
type answer struct {
	Result
	Error string `json:"error"`
}

// Publish sends m to one node (failing over and retrying as the package doc
// says) and returns the answer. A status other than 200 or 202 is a
// *StatusError.
func (c *Client) Publish(ctx context.Context, m Message) (Result, error) {
	path, err := appendPubPath(nil, m.To)
	if err != nil {
		return Result{}, err
	}
	r := c.call(ctx, m.IdempotencyKey != "", false, func(nd *node, deadline time.Time) reply {
		return c.publishOnce(nd, deadline, path, &m)
	})
	return r.res, r.error()
}

// publishOnce sends one POST /pub/<kind>/<name> to nd.
func (c *Client) publishOnce(nd *node, deadline time.Time, path []byte, m *Message) reply {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURIBytes(path)
	req.Header.SetHost(nd.addr)
	c.setAuth(req)
	if m.ContentType != "" {
		req.Header.SetContentType(m.ContentType)
	}
	if m.Event != "" {
		req.Header.Set("Push-Event", m.Event)
	}
	if m.QoS != 0 {
		req.Header.Set("Push-QoS", strconv.Itoa(m.QoS))
	}
	if m.TTL > 0 {
		req.Header.Set("Push-TTL", strconv.FormatInt(int64(m.TTL/time.Second), 10))
	}
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	req.SetBodyRaw(m.Data)
	if err := nd.hc.DoDeadline(req, resp, deadline); err != nil {
		return reply{err: err}
	}
	r := reply{status: resp.StatusCode()}
	parseAnswer(&r, resp.Body())
	return r
}

func (c *Client) setAuth(req *fasthttp.Request) {
	if c.auth != nil {
		req.Header.SetBytesV("Authorization", c.auth)
	}
}

// parseAnswer fills r from an answer body with r.status set.
func parseAnswer(r *reply, body []byte) {
	var a answer
	if err := sonic.Unmarshal(body, &a); err != nil {
		if r.status == 200 || r.status == 202 {
			r.err = errors.New("pubclient: answer " + strconv.Itoa(r.status) + " is not JSON: " + truncate(body))
		}
		r.msg = truncate(body)
		return
	}
	a.Status = r.status
	r.res, r.msg = a.Result, a.Error
}

func truncate(b []byte) string {
	const most = 200
	if len(b) > most {
		return string(b[:most]) + "…"
	}
	return string(b)
}

// appendPubPath appends "/pub/<kind>/<name>" for the address to (the name
// path-escaped) or "/pub/all".
func appendPubPath(dst []byte, to string) ([]byte, error) {
	if to == "all" {
		return append(dst, "/pub/all"...), nil
	}
	kind, name, ok := strings.Cut(to, ":")
	if !ok || name == "" || (kind != "conn" && kind != "user" && kind != "topic") {
		return nil, errors.New(`pubclient: address ` + strconv.Quote(to) + ` is not conn:<key>, user:<id>, topic:<name> or all`)
	}
	dst = append(dst, "/pub/"...)
	dst = append(dst, kind...)
	dst = append(dst, '/')
	return append(dst, url.PathEscape(name)...), nil
}
