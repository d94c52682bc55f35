package pubclient

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// frame decodes a message frame's fields.
func frame(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("frame %q: %v", line, err)
	}
	return m
}

// TestPublish: every header of Message reaches the subscriber's frame, and
// the answer's fields come back in Result.
func TestPublish(t *testing.T) {
	n := startNode(t)
	c := newClient(t, Config{Addrs: []string{n.api}})
	sub := n.subscribe(t, "user=u%2F1&topic=news")
	ctx := context.Background()

	res, err := c.Publish(ctx, Message{To: "user:u/1", Data: []byte(`{"a":1}`), ContentType: "application/json", Event: "greet"})
	if err != nil {
		t.Fatalf("Publish to user:u/1: %v", err)
	}
	if res.Status != 200 || res.ID == "" || res.Delivered != 1 || res.Nodes != 1 || res.Stored || res.Duplicate {
		t.Errorf("Publish = %+v; want status 200, an id, delivered 1, nodes 1", res)
	}
	f := frame(t, sub.message(t))
	if f["id"] != res.ID || f["to"] != "user:u/1" || f["event"] != "greet" || f["data"].(map[string]any)["a"] != 1.0 {
		t.Errorf("frame %v; want id %s, to user:u/1, event greet, data {a:1}", f, res.ID)
	}

	res, err = c.Publish(ctx, Message{To: "topic:news", Data: []byte("plain\ntext")})
	if err != nil || res.Delivered != 1 {
		t.Fatalf("Publish to topic:news = %+v, %v; want delivered 1", res, err)
	}
	if f := frame(t, sub.message(t)); f["data"] != "plain\ntext" {
		t.Errorf("topic frame data %q; want \"plain\\ntext\"", f["data"])
	}

	// QoS 1 to an offline user: 202, stored.
	res, err = c.Publish(ctx, Message{To: "user:offline", Data: []byte("later"), QoS: 1, TTL: time.Minute})
	if err != nil || res.Status != 202 || !res.Stored {
		t.Errorf("QoS 1 Publish to an offline user = %+v, %v; want 202 stored", res, err)
	}
}

// TestPublishErrors: each failing status is a *StatusError that errors.Is
// matches to its sentinel, with the server's reason.
func TestPublishErrors(t *testing.T) {
	n := startNode(t, "--max-message-bytes", "16", "--api-token", "s3cret")
	good := newClient(t, Config{Addrs: []string{n.api}, Token: "s3cret"})
	bad := newClient(t, Config{Addrs: []string{n.api}, Token: "wrong"})
	ctx := context.Background()
	cases := []struct {
		name   string
		c      *Client
		m      Message
		want   error
		status int
	}{
		{"no live connection", good, Message{To: "user:nobody", Data: []byte("x")}, ErrNotFound, 404},
		{"too large", good, Message{To: "topic:t", Data: []byte(strings.Repeat("x", 17))}, ErrTooLarge, 413},
		{"wrong token", bad, Message{To: "topic:t", Data: []byte("x")}, ErrUnauthorized, 401},
		{"bad header", good, Message{To: "topic:t", Data: []byte("x"), QoS: 7}, ErrBadRequest, 400},
		{"bad key", good, Message{To: "topic:t", Data: []byte("x"), IdempotencyKey: "no spaces"}, ErrBadRequest, 400},
	}
	for _, tc := range cases {
		_, err := tc.c.Publish(ctx, tc.m)
		var se *StatusError
		if !errors.Is(err, tc.want) || !errors.As(err, &se) || se.Status != tc.status || se.Message == "" || se.Addr != n.api {
			t.Errorf("%s: Publish error %v (%#v); want %v, a *StatusError %d with a reason from %s", tc.name, err, se, tc.want, tc.status, n.api)
		}
	}
	if _, err := good.Publish(ctx, Message{To: "topic:t", Data: []byte("x")}); err != nil {
		t.Errorf("Publish with the right token: %v", err)
	}
	if _, err := good.Publish(ctx, Message{To: "group:x", Data: []byte("x")}); err == nil || !strings.Contains(err.Error(), "group:x") {
		t.Errorf("Publish to group:x = %v; want an error naming the address", err)
	}
}

// TestRateLimited: past --publish-rate the answer is ErrRateLimited, and it is
// not retried (a 429 asks the publisher to slow down, not to repeat at once).
func TestRateLimited(t *testing.T) {
	n := startNode(t, "--publish-rate", "0.001")
	c := newClient(t, Config{Addrs: []string{n.api}, RetryWithoutKey: true})
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = c.Publish(context.Background(), Message{To: "topic:t", Data: []byte("x")})
	}
	var se *StatusError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &se) || se.Status != 429 {
		t.Fatalf("publishing past --publish-rate 0.001: %v; want ErrRateLimited (429)", err)
	}
}

// TestPublishBatch: lines stream out, results come back in order, per line
// typed; repeated keys come back as duplicates and deliver nothing.
func TestPublishBatch(t *testing.T) {
	n := startNode(t)
	c := newClient(t, Config{Addrs: []string{n.api}})
	sub := n.subscribe(t, "user=42")
	msgs := []BatchMessage{
		{To: "user:42", Data: json.RawMessage(`{"n":1}`), Event: "e", IdempotencyKey: "k-1"},
		{To: "user:7", Data: json.RawMessage(`"x"`), IdempotencyKey: "k-2"},
		{To: "user:42", Data: json.RawMessage(`"two \"quoted\"\n"`), IdempotencyKey: "k-3"},
		{To: "user:off", Data: json.RawMessage(`3`), QoS: 1, TTL: time.Minute, IdempotencyKey: "k-4"},
	}
	type got struct {
		r   Result
		err error
	}
	run := func() []got {
		var out []got
		err := c.PublishBatch(context.Background(), msgs, func(i int, r Result, err error) {
			if i != len(out) {
				t.Errorf("result %d came after %d results", i, len(out))
			}
			out = append(out, got{r, err})
		})
		if err != nil {
			t.Fatalf("PublishBatch: %v", err)
		}
		return out
	}
	first := run()
	if len(first) != 4 {
		t.Fatalf("PublishBatch gave %d results; want 4", len(first))
	}
	if r := first[0]; r.err != nil || r.r.Status != 200 || r.r.Delivered != 1 || r.r.ID == "" {
		t.Errorf("line 0 = %+v; want 200 delivered 1", r)
	}
	if r := first[1]; !errors.Is(r.err, ErrNotFound) {
		t.Errorf("line 1 = %+v; want ErrNotFound", r)
	}
	if r := first[2]; r.err != nil || r.r.Delivered != 1 {
		t.Errorf("line 2 = %+v; want delivered 1", r)
	}
	if r := first[3]; r.err != nil || r.r.Status != 202 || !r.r.Stored {
		t.Errorf("line 3 = %+v; want 202 stored", r)
	}
	if f := frame(t, sub.message(t)); f["id"] != first[0].r.ID || f["event"] != "e" {
		t.Errorf("first frame %v; want id %s event e", f, first[0].r.ID)
	}
	if f := frame(t, sub.message(t)); f["data"] != "two \"quoted\"\n" {
		t.Errorf("second frame data %q", f["data"])
	}

	again := run()
	for _, i := range []int{0, 2, 3} {
		if r := again[i]; r.err != nil || !r.r.Duplicate || r.r.ID != first[i].r.ID {
			t.Errorf("repeated line %d = %+v; want duplicate with id %s", i, r, first[i].r.ID)
		}
	}
	// The 404 released its key: the repeat is a new attempt, 404 again.
	if !errors.Is(again[1].err, ErrNotFound) {
		t.Errorf("repeated line 1 = %+v; want ErrNotFound again", again[1])
	}
	// Nothing more reached the subscriber: the next frame is a new publish.
	res, err := c.Publish(context.Background(), Message{To: "user:42", Data: []byte("marker")})
	if err != nil {
		t.Fatal(err)
	}
	if f := frame(t, sub.message(t)); f["id"] != res.ID {
		t.Errorf("after repeated keys the subscriber got %v; want only the marker %s", f, res.ID)
	}
}

// TestDuplicateKey: the same key twice is delivered once; the second answer
// is the first plus Duplicate.
func TestDuplicateKey(t *testing.T) {
	n := startNode(t)
	c := newClient(t, Config{Addrs: []string{n.api}})
	sub := n.subscribe(t, "user=9")
	m := Message{To: "user:9", Data: []byte("once"), IdempotencyKey: "order-77"}
	first, err := c.Publish(context.Background(), m)
	if err != nil || first.Duplicate {
		t.Fatalf("first Publish = %+v, %v", first, err)
	}
	second, err := c.Publish(context.Background(), m)
	if err != nil || !second.Duplicate || second.ID != first.ID {
		t.Fatalf("second Publish = %+v, %v; want duplicate of %s", second, err, first.ID)
	}
	marker, _ := c.Publish(context.Background(), Message{To: "user:9", Data: []byte("marker")})
	if f := frame(t, sub.message(t)); f["id"] != first.ID {
		t.Errorf("first frame %v; want %s", f, first.ID)
	}
	if f := frame(t, sub.message(t)); f["id"] != marker.ID {
		t.Errorf("second frame %v; want the marker %s (the duplicate was delivered)", f, marker.ID)
	}
}

// TestFailover: with the first address dead, publishes go to the next one,
// keyed or not (a refused connection sent nothing).
func TestFailover(t *testing.T) {
	n := startNode(t)
	c := newClient(t, Config{Addrs: []string{deadAddr(t), n.api}, Retries: 1})
	for i := range 4 {
		res, err := c.Publish(context.Background(), Message{To: "topic:t", Data: []byte("x")})
		if err != nil || res.Status != 200 {
			t.Fatalf("publish %d with the first address dead = %+v, %v; want 200", i, res, err)
		}
	}
	if err := c.PublishBatch(context.Background(), []BatchMessage{{To: "topic:t", Data: json.RawMessage(`1`)}},
		func(int, Result, error) {}); err != nil {
		t.Fatalf("PublishBatch with the first address dead: %v", err)
	}
	all := newClient(t, Config{Addrs: []string{deadAddr(t), deadAddr(t)}, Retries: 2, Backoff: time.Millisecond})
	if _, err := all.Publish(context.Background(), Message{To: "topic:t"}); err == nil || !isDialError(err) {
		t.Errorf("Publish with every address dead = %v; want the dial error", err)
	}
}

// TestRetryAfter503: a node whose QoS 1 store is full for a user answers 503;
// a keyed publish is retried on the next node and stored there; an unkeyed
// one is not retried (the second node never sees it).
func TestRetryAfter503(t *testing.T) {
	full := startNode(t, "--store-messages", "1")
	other := startNode(t, "--store-messages", "1")
	ctx := context.Background()
	fill := newClient(t, Config{Addrs: []string{full.api}})
	for _, u := range []string{"user:a", "user:b"} {
		if res, err := fill.Publish(ctx, Message{To: u, Data: []byte("1"), QoS: 1}); err != nil || res.Status != 202 {
			t.Fatalf("filling %s = %+v, %v; want 202", u, res, err)
		}
	}
	if _, err := fill.Publish(ctx, Message{To: "user:a", Data: []byte("2"), QoS: 1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("publish to a full store = %v; want ErrUnavailable (503)", err)
	}

	// The client starts at the address after its counter: pin it to full first.
	c := newClient(t, Config{Addrs: []string{other.api, full.api}, Backoff: time.Millisecond})
	res, err := c.Publish(ctx, Message{To: "user:a", Data: []byte("2"), QoS: 1, IdempotencyKey: "retry-1"})
	if err != nil || res.Status != 202 {
		t.Fatalf("keyed publish after a 503 = %+v, %v; want 202 from the other node", res, err)
	}
	// Exactly one copy reached the other node: its store for user:a is now full.
	only := newClient(t, Config{Addrs: []string{other.api}})
	if _, err := only.Publish(ctx, Message{To: "user:a", Data: []byte("3"), QoS: 1}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("the other node's store for user:a after the retry: %v; want full (503)", err)
	}

	// Unkeyed: the 503 is returned, and the other node got nothing for user:b.
	c2 := newClient(t, Config{Addrs: []string{other.api, full.api}, Backoff: time.Millisecond})
	if _, err := c2.Publish(ctx, Message{To: "user:b", Data: []byte("2"), QoS: 1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unkeyed publish to the full node = %v; want ErrUnavailable, not retried", err)
	}
	if res, err := only.Publish(ctx, Message{To: "user:b", Data: []byte("x"), QoS: 1}); err != nil || res.Status != 202 {
		t.Errorf("the other node's store for user:b = %+v, %v; want empty (202): an unkeyed publish was retried", res, err)
	}
	// With RetryWithoutKey it is retried, on a third node with room.
	third := startNode(t)
	c3 := newClient(t, Config{Addrs: []string{third.api, full.api}, Backoff: time.Millisecond, RetryWithoutKey: true})
	if res, err := c3.Publish(ctx, Message{To: "user:a", Data: []byte("x"), QoS: 1}); err != nil || res.Status != 202 {
		t.Errorf("RetryWithoutKey publish after a 503 = %+v, %v; want 202 from the third node", res, err)
	}
}

// TestContextCancel: a cancelled context ends a publish waiting between
// retries, and a publish with a done context sends nothing.
func TestContextCancel(t *testing.T) {
	full := startNode(t, "--store-messages", "1")
	c := newClient(t, Config{Addrs: []string{full.api}, Retries: 1000, Backoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	ctx := context.Background()
	if _, err := c.Publish(ctx, Message{To: "user:a", Data: []byte("1"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := c.Publish(cctx, Message{To: "user:a", Data: []byte("2"), QoS: 1, IdempotencyKey: "k"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Publish retrying 503s until cancelled = %v; want context.Canceled", err)
	}
	if _, err := c.Publish(cctx, Message{To: "topic:t", Data: []byte("x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context = %v; want context.Canceled", err)
	}
	if err := c.PublishBatch(cctx, []BatchMessage{{To: "topic:t", Data: json.RawMessage(`1`)}}, func(int, Result, error) {
		t.Errorf("a batch with a cancelled context was answered")
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("PublishBatch with a cancelled context = %v; want context.Canceled", err)
	}
}

// TestPublishBatchLarge: a batch bigger than a chunk and a read buffer
// streams out and every result line is read.
func TestPublishBatchLarge(t *testing.T) {
	n := startNode(t)
	c := newClient(t, Config{Addrs: []string{n.api}})
	msgs := make([]BatchMessage, 2000)
	for i := range msgs {
		msgs[i] = BatchMessage{To: "topic:big", Data: json.RawMessage(`"` + strings.Repeat("x", 100) + `"`)}
	}
	ok := 0
	err := c.PublishBatch(context.Background(), msgs, func(i int, r Result, err error) {
		if err == nil && r.Status == 200 && i == ok {
			ok++
		}
	})
	if err != nil || ok != len(msgs) {
		t.Fatalf("PublishBatch of %d lines: %d answered 200 in order, %v", len(msgs), ok, err)
	}
}
