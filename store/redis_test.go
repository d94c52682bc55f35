package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/cluster/redistest"
	"github.com/pushwire/pushwire/push"
)

// testMsgID builds an id the way the server does: time<<22 | counter<<10 | node.
func testMsgID(ms, counter, node uint64) uint64 { return ms<<22 | counter<<10 | node }

func newTestStore(t *testing.T, r *redistest.Server, opTimeout time.Duration) *Redis[*testMessage] {
	t.Helper()
	return newTestStorePrefix(t, r.URL(), "", opTimeout)
}

// newTestStorePrefix is a store on the Redis that url names, its keys under prefix.
func newTestStorePrefix(t *testing.T, url, prefix string, opTimeout time.Duration) *Redis[*testMessage] {
	t.Helper()
	conn, err := redisconn.New(redisconn.Options{URL: url, OpTimeout: opTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("redisconn.New = %v; want nil", err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewRedis(conn, prefix, 0, newTestMessage)
}

func testMsg(id uint64, expiresAt int64, data string) *push.Message {
	return &push.Message{Seq: id, Expiry: expiresAt, To: []byte("user:42"), Event: []byte("ev"), ContentType: []byte("text/plain"), Data: []byte(data)}
}

func pendingIDs(t *testing.T, s *Redis[*testMessage], user string, nowMs int64) []uint64 {
	t.Helper()
	ms, _, err := s.pending(context.Background(), user, nowMs)
	if err != nil {
		t.Fatalf("Pending(%q) = %v; want nil", user, err)
	}
	ids := []uint64{}
	for _, m := range ms {
		ids = append(ids, m.Seq)
	}
	return ids
}

// raw returns a client of r without client-side caching, to inspect Redis directly.
func raw(t *testing.T, r *redistest.Server) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{r.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatalf("raw redis client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// eventually is redistest.Eventually.
func eventually(t *testing.T, timeout time.Duration, f func() string) {
	t.Helper()
	redistest.Eventually(t, timeout, f)
}

func TestQoSMemberRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []push.Message{
		{},
		{Seq: math.MaxUint64, Expiry: math.MaxInt64, To: []byte("user:42"), Event: []byte("e"), ContentType: []byte("a/b"), JSON: true, Data: []byte(`{"a":1}`)},
		{Seq: 1, Expiry: 1, To: []byte("t:\x00:\xff"), Event: []byte("\n\r\n"), ContentType: []byte(":"), Data: []byte("\x00\n\r\n\xff\xfe\xc3(")},
		{Seq: 7, Expiry: 5, To: make([]byte, 300), Data: bytes.Repeat([]byte{0}, 1000)},
	}
	for i, want := range cases {
		b := appendQoSMember(nil, &want)
		got, err := decodeQoSMember(string(b))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("case %d: decode(encode(m)) = %+v, %v; want %+v, nil", i, got, err, want)
		}
		for n := 0; n < len(b)-len(want.Data); n++ { // every cut before the data must be refused
			if _, err := decodeQoSMember(string(b[:n])); err == nil {
				t.Errorf("case %d: decode(member[:%d]) = nil error; want errQoSMember", i, n)
			}
		}
	}
	// Bytewise member order is id order, whatever follows the id.
	a := appendQoSMember(nil, &push.Message{Seq: 9, Expiry: 999999})
	b := appendQoSMember(nil, &push.Message{Seq: 10, Expiry: 1})
	if bytes.Compare(a, b) >= 0 {
		t.Errorf("member(id 9) >= member(id 10): %q vs %q", a, b)
	}
}

func FuzzQoSMember(f *testing.F) {
	f.Add(appendQoSMember(nil, testMsg(testMsgID(1700000000000, 3, 17), 1700000060000, "hi\x00")))
	f.Add([]byte("00000000000000000001:5:\x01\x01a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeQoSMember(string(b))
		if err != nil {
			return
		}
		again, err := decodeQoSMember(string(appendQoSMember(nil, &m)))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", m, again, err)
		}
	})
}

func TestRedisStorePendingOrder(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	ms := uint64(now)
	// Two nodes (5 and 900) publishing in the same millisecond, plus neighbours in time.
	want := []uint64{
		testMsgID(ms-1, 1023, 1023),
		testMsgID(ms, 0, 5), testMsgID(ms, 0, 900), testMsgID(ms, 1, 5), testMsgID(ms, 1, 900),
		testMsgID(ms, 2, 5), testMsgID(ms+1, 0, 900),
	}
	for _, i := range []int{4, 1, 6, 0, 3, 5, 2} { // stored out of order
		if err := s.put(ctx, "42", testMsg(want[i], now+60000, "m"), 100, time.Now().UnixMilli()); err != nil {
			t.Fatalf("Put(id %d) = %v; want nil", want[i], err)
		}
	}
	if got := pendingIDs(t, s, "42", now); !reflect.DeepEqual(got, want) {
		t.Errorf("Pending ids = %v; want %v", got, want)
	}
	if got := pendingIDs(t, s, "43", now); len(got) != 0 {
		t.Errorf("Pending(other user) = %v; want none", got)
	}
	// A retried Put (same message) stores nothing new, even when the user is at the limit.
	if err := s.put(ctx, "42", testMsg(want[0], now+60000, "m"), len(want), time.Now().UnixMilli()); err != nil {
		t.Errorf("Put(same message again, full) = %v; want nil", err)
	}
	if got := pendingIDs(t, s, "42", now); len(got) != len(want) {
		t.Errorf("after a repeated Put, %d pending; want %d", len(got), len(want))
	}
}

func TestRedisStoreAckCumulative(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	ids := []uint64{testMsgID(100, 0, 1), testMsgID(100, 0, 2), testMsgID(100, 1, 1), testMsgID(101, 0, 1), testMsgID(102, 0, 1)}
	for _, id := range ids {
		if err := s.put(ctx, "u", testMsg(id, now+60000, "x"), 0, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		upTo    uint64
		removed int
		left    []uint64
	}{
		{ids[0] - 1, 0, ids},
		{ids[2], 3, ids[3:]},            // cumulative: everything up to and including ids[2]
		{ids[2], 0, ids[3:]},            // repeated ack
		{ids[4] - 1, 1, ids[4:]},        // an id between stored ids
		{math.MaxUint64, 1, []uint64{}}, // the largest id acks everything
	}
	for _, st := range steps {
		n, err := s.ack(ctx, "u", st.upTo)
		if err != nil || n != st.removed {
			t.Errorf("Ack(%d) = %d, %v; want %d, nil", st.upTo, n, err, st.removed)
		}
		if got := pendingIDs(t, s, "u", now); !reflect.DeepEqual(got, st.left) {
			t.Errorf("after Ack(%d), Pending ids = %v; want %v", st.upTo, got, st.left)
		}
	}
	if n, err := raw(t, r).Do(ctx, raw(t, r).B().Exists().Key("pw:q:u").Build()).AsInt64(); err != nil || n != 0 {
		t.Errorf("EXISTS pw:q:u after acking all = %d, %v; want 0", n, err)
	}
}

// AckIDs removes exactly the listed ids (what a connection was sent), never
// a neighbour whose id shares digits, and ignores ids not stored.
func TestRedisStoreAckIDs(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	ids := []uint64{9, 10, 100, testMsgID(100, 0, 1), testMsgID(100, 0, 2), math.MaxUint64}
	for _, id := range ids {
		if err := s.put(ctx, "u", testMsg(id, now+60000, "x"), 0, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		ack     []uint64
		removed int
		left    []uint64
	}{
		{nil, 0, ids},
		{[]uint64{1, 11, 99}, 0, ids}, // none stored
		{[]uint64{10}, 1, []uint64{9, 100, ids[3], ids[4], ids[5]}}, // not 100, not 9
		{[]uint64{ids[4], 10, 9}, 2, []uint64{100, ids[3], ids[5]}}, // any order; 10 again is ignored
		{[]uint64{math.MaxUint64, 100, ids[3]}, 3, []uint64{}},
	}
	for _, st := range steps {
		got, err := s.ackIDs(ctx, "u", st.ack)
		if err != nil || len(got) != st.removed {
			t.Errorf("AckIDs(%v) = %v, %v; want %d ids, nil", st.ack, got, err, st.removed)
		}
		for _, id := range got {
			if !slices.Contains(st.ack, id) {
				t.Errorf("AckIDs(%v) removed %d, which it was not given", st.ack, id)
			}
		}
		if got := pendingIDs(t, s, "u", now); !reflect.DeepEqual(got, st.left) {
			t.Errorf("after AckIDs(%v), Pending ids = %v; want %v", st.ack, got, st.left)
		}
	}
}

func TestRedisStorePendingDropsExpired(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	exp := []int64{now + 60000, now + 1000, now + 60000, now + 2000}
	for i, e := range exp {
		if err := s.put(ctx, "u", testMsg(uint64(i+1), e, "x"), 0, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := pendingIDs(t, s, "u", now), []uint64{1, 2, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending(now) = %v; want %v", got, want)
	}
	// At now+1000 message 2 has expired (ExpiresAt <= now), at now+2500 message 4 too.
	if got, want := pendingIDs(t, s, "u", now+1000), []uint64{1, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending(now+1000) = %v; want %v", got, want)
	}
	if got, want := pendingIDs(t, s, "u", now+2500), []uint64{1, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending(now+2500) = %v; want %v", got, want)
	}
	raw := raw(t, r)
	if n, err := raw.Do(ctx, raw.B().Zcard().Key("pw:q:u").Build()).AsInt64(); err != nil || n != 3 {
		t.Errorf("ZCARD after Pending dropped expired = %d, %v; want 3 (messages 1 and 3, the lost mark)", n, err)
	}
	// The expired messages are remembered as lost (the gap frame): the newest of them.
	if _, lost, err := s.pending(ctx, "u", now+2500); err != nil || lost != 4 {
		t.Errorf("Pending(now+2500) lost = %d, %v; want 4 (the newest message that expired unacknowledged)", lost, err)
	}
	// Going back in time cannot revive what was deleted.
	if got, want := pendingIDs(t, s, "u", now), []uint64{1, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending(now) again = %v; want %v", got, want)
	}
}

func TestRedisStoreFull(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for id := uint64(1); id <= 3; id++ {
		if err := s.put(ctx, "u", testMsg(id, now+60000, "x"), 3, time.Now().UnixMilli()); err != nil {
			t.Fatalf("Put(%d of 3) = %v; want nil", id, err)
		}
	}
	if err := s.put(ctx, "u", testMsg(4, now+60000, "x"), 3, time.Now().UnixMilli()); !errors.Is(err, ErrUserFull) {
		t.Fatalf("Put(4th, max 3) = %v; want ErrUserFull", err)
	}
	if err := s.put(ctx, "other", testMsg(4, now+60000, "x"), 3, time.Now().UnixMilli()); err != nil {
		t.Errorf("Put(other user) = %v; want nil (limits are per user)", err)
	}
	if n, err := s.ack(ctx, "u", 1); err != nil || n != 1 {
		t.Fatalf("Ack(1) = %d, %v; want 1, nil", n, err)
	}
	if err := s.put(ctx, "u", testMsg(4, now+60000, "x"), 3, time.Now().UnixMilli()); err != nil {
		t.Fatalf("Put(4) after an ack = %v; want nil", err)
	}
	// Messages that expired make room, without a Pending call to drop them first.
	if err := s.put(ctx, "e", testMsg(1, now+60000, "x"), 3, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	for id := uint64(2); id <= 3; id++ {
		if err := s.put(ctx, "e", testMsg(id, now-1000, "x"), 3, time.Now().UnixMilli()); err != nil {
			t.Fatalf("Put(expired %d) = %v; want nil", id, err)
		}
	}
	if err := s.put(ctx, "e", testMsg(4, now+60000, "x"), 3, time.Now().UnixMilli()); err != nil {
		t.Fatalf("Put into a queue full of expired messages = %v; want nil", err)
	}
	if got, want := pendingIDs(t, s, "e", time.Now().UnixMilli()), []uint64{1, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending = %v; want %v", got, want)
	}
	// maxPerUser <= 0: no limit.
	for id := uint64(10); id < 20; id++ {
		if err := s.put(ctx, "u", testMsg(id, now+60000, "x"), 0, time.Now().UnixMilli()); err != nil {
			t.Fatalf("Put(max 0) = %v; want nil", err)
		}
	}
}

func TestRedisStoreBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	want := []push.Message{
		{Seq: 1, Expiry: now + 60000, To: []byte("user:\x00:42"), Event: []byte("a\nb"), ContentType: []byte("application/octet-stream"),
			Data: []byte("\x00\x00nul\nline\r\ncrlf\xff\xfe\xc3\x28 invalid utf-8\x00")},
		{Seq: 2, Expiry: now + 60000, To: []byte("user:42"), JSON: true, Data: []byte(`{"k":"v"}`)},
		{Seq: 3, Expiry: now + 60000, To: []byte("user:42")},                                             // empty data
		{Seq: 4, Expiry: now + 60000, To: []byte("user:42"), Data: bytes.Repeat([]byte{0xff, 0}, 40000)}, // 80 KB
	}
	for i := range want {
		if err := s.put(ctx, "bin\x00user\xff", &want[i], 0, time.Now().UnixMilli()); err != nil {
			t.Fatalf("Put(%d) = %v; want nil", want[i].Seq, err)
		}
	}
	got, _, err := s.pending(ctx, "bin\x00user\xff", now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pending = %+v\nwant %+v", got, want)
	}
}

func TestRedisStoreKeyExpiry(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStorePrefix(t, r.URL(), "x:", time.Second)
	ctx := context.Background()
	raw := raw(t, r)
	expireTime := func() int64 {
		t.Helper()
		v, err := raw.Do(ctx, raw.B().Pexpiretime().Key("x:q:u").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	now := time.Now().UnixMilli()
	// The key outlives its longest-lived message as long again, at least an hour (lostUntil),
	// so a message that expires unread is still found and noted lost when its user comes back.
	const hour = 3600000
	steps := []struct {
		exp, want int64
	}{
		{now + 10000, now + 10000 + hour},       // the first message sets the key's expiry
		{now + 20000, now + 20000 + hour},       // a longer-lived one extends it
		{now + 5000, now + 20000 + hour},        // a shorter-lived one does not shorten it
		{now + 2*hour, now + 2*hour + 2*hour},   // a TTL over an hour: kept as long again
		{now + 3*hour/2, now + 2*hour + 2*hour}, // and again, never shortened
	}
	for i, st := range steps {
		if err := s.put(ctx, "u", testMsg(uint64(i+1), st.exp, "x"), 0, now); err != nil {
			t.Fatal(err)
		}
		if got := expireTime(); got != st.want {
			t.Errorf("after Put(expires %+d ms), PEXPIRETIME x:q:u = %+d ms; want %+d", st.exp-now, got-now, st.want-now)
		}
	}
}

// checkDown runs f and checks it fails with ErrDirectoryDown within limit.
func checkDown(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	start := time.Now()
	err := f()
	if took := time.Since(start); !errors.Is(err, cluster.ErrDirectoryDown) || took > limit {
		t.Errorf("%s with Redis unreachable = %v after %v; want cluster.ErrDirectoryDown within %v", what, err, took, limit)
	}
}

func TestRedisStoreRedisDown(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	const opTimeout = 300 * time.Millisecond
	limit := opTimeout + 200*time.Millisecond
	s := newTestStore(t, r, opTimeout)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	if err := s.put(ctx, "u", testMsg(1, now+60000, "x"), 10, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}

	// Hung Redis: requests end at OpTimeout.
	redistest.Pause(t, r.Process())
	checkDown(t, "Put (SIGSTOPped)", limit, func() error { return s.put(ctx, "u", testMsg(2, now+60000, "x"), 10, time.Now().UnixMilli()) })
	checkDown(t, "Pending (SIGSTOPped)", limit, func() error { _, _, err := s.pending(ctx, "u", now); return err })
	if err := r.Process().Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, func() string {
		if _, _, err := s.pending(ctx, "u", now); err != nil {
			return "Pending after SIGCONT: " + err.Error()
		}
		return ""
	})

	// Stopped Redis: requests fail fast; a restarted (empty) Redis is used by the same store.
	r.Stop()
	checkDown(t, "Put (stopped)", limit, func() error { return s.put(ctx, "u", testMsg(3, now+60000, "x"), 10, time.Now().UnixMilli()) })
	checkDown(t, "Ack (stopped)", limit, func() error { _, err := s.ack(ctx, "u", 1); return err })
	checkDown(t, "AckIDs (stopped)", limit, func() error { _, err := s.ackIDs(ctx, "u", []uint64{1}); return err })
	checkDown(t, "Pending (stopped)", limit, func() error { _, _, err := s.pending(ctx, "u", now); return err })
	r.Start()
	eventually(t, 3*time.Second, func() string {
		if err := s.put(ctx, "u", testMsg(4, now+60000, "x"), 10, time.Now().UnixMilli()); err != nil {
			return "Put after restart: " + err.Error()
		}
		return ""
	})
	// Redis restarted empty (no persistence), and the Put script was reloaded.
	if got, want := pendingIDs(t, s, "u", now), []uint64{4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending after restart = %v; want %v", got, want)
	}
}

func TestRedisStoreLazyConnect(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	r.Stop() // Redis is down when the store is made
	const opTimeout = 300 * time.Millisecond
	s := newTestStore(t, r, opTimeout)
	ctx := context.Background()
	now := time.Now().UnixMilli()
	checkDown(t, "Put (never connected)", opTimeout+200*time.Millisecond,
		func() error { return s.put(ctx, "u", testMsg(1, now+60000, "x"), 10, time.Now().UnixMilli()) })
	checkDown(t, "Put (again, in the retry gap)", 50*time.Millisecond,
		func() error { return s.put(ctx, "u", testMsg(1, now+60000, "x"), 10, time.Now().UnixMilli()) })
	r.Start()
	eventually(t, 3*time.Second, func() string {
		if err := s.put(ctx, "u", testMsg(1, now+60000, "x"), 10, time.Now().UnixMilli()); err != nil {
			return "Put after Redis came up: " + err.Error()
		}
		return ""
	})
	if got, want := pendingIDs(t, s, "u", now), []uint64{1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending = %v; want %v", got, want)
	}
	s.conn.Close()
	if err := s.put(ctx, "u", testMsg(2, now+60000, "x"), 10, time.Now().UnixMilli()); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Put after Close = %v; want cluster.ErrClosed", err)
	}
	if _, _, err := s.pending(ctx, "u", now); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("Pending after Close = %v; want cluster.ErrClosed", err)
	}
}

// TestRedisStoreLostMark: a message that expires unacknowledged raises the user's lost mark,
// whether Pending finds it or a full queue's Put clears it; the mark is no message (it does not
// count toward --store-messages) and only rises.
func TestRedisStoreLostMark(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	s := newTestStore(t, r, time.Second)
	s.perUser = 2
	ctx := context.Background()
	now := time.Now().UnixMilli()
	if _, lost, err := s.pending(ctx, "u", now); err != nil || lost != 0 {
		t.Fatalf("Pending(nobody) lost = %d, %v; want 0", lost, err)
	}
	for _, m := range []*push.Message{testMsg(10, now+1000, "a"), testMsg(20, now+60000, "b")} {
		if err := s.put(ctx, "u", m, s.perUser, now); err != nil {
			t.Fatal(err)
		}
	}
	// At now+2000 message 10 has expired: the full queue's Put drops it and notes it lost.
	if err := s.put(ctx, "u", testMsg(30, now+60000, "c"), s.perUser, now+2000); err != nil {
		t.Fatalf("Put(30) after 10 expired = %v; want nil", err)
	}
	if err := s.put(ctx, "u", testMsg(40, now+60000, "d"), s.perUser, now+2000); err != ErrUserFull {
		t.Errorf("Put(40) with 20 and 30 kept = %v; want ErrUserFull (the mark is no message)", err)
	}
	if got, want := pendingIDs(t, s, "u", now+2000), []uint64{20, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending = %v; want %v", got, want)
	}
	if _, lost, err := s.pending(ctx, "u", now+2000); err != nil || lost != 10 {
		t.Errorf("Pending lost = %d, %v; want 10", lost, err)
	}
	// Acknowledged messages are not lost; expired ones raise the mark, never lower it.
	if _, err := s.AckIDs(ctx, nil, []byte("u"), []uint64{20}); err != nil {
		t.Fatal(err)
	}
	if _, lost, err := s.pending(ctx, "u", now+61000); err != nil || lost != 30 {
		t.Errorf("Pending after 30 expired lost = %d, %v; want 30", lost, err)
	}
	raw := raw(t, r)
	if ms, err := raw.Do(ctx, raw.B().Zrange().Key("pw:q:u").Min("-").Max("+").Bylex().Build()).AsStrSlice(); err != nil || len(ms) != 1 || ms[0] != "!00000000000000000030" {
		t.Errorf("pw:q:u = %q, %v; want the one lost mark !00000000000000000030", ms, err)
	}
}
