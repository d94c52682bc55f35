package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// The QoS 1 store on a Redis Cluster: the one-key Lua script (loaded on each master on first
// use, NOSCRIPT answered by EVAL), ZRANGE and ZREMRANGEBYLEX work for users on every shard.
func TestRedisClusterStore(t *testing.T) {
	t.Parallel()
	rc := redistest.Start(t)
	s := newTestStorePrefix(t, rc.URL(), "", time.Second)
	other := newTestStorePrefix(t, "redis://"+rc.Addrs()[2], "", time.Second)
	users := rc.OnEachShard("q", func(n string) string { return keyQueue("pw:", n) })
	ctx := context.Background()

	// The first requests of a new store race its first dial (seeds, slot map, masters): each
	// waits for that dial instead of failing (a subscriber would miss its QoS 1 replay).
	errs := make(chan error, 32)
	for i := range cap(errs) {
		go func() {
			_, _, err := s.pending(ctx, users[i%len(users)], time.Now().UnixMilli())
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Pending on a new store, 32 at once = %v; want nil (wait for the first dial)", err)
		}
	}

	now := time.Now().UnixMilli()
	for _, u := range users {
		for id := uint64(1); id <= 3; id++ {
			if err := s.put(ctx, u, testMsg(id, now+60000, u), 3, time.Now().UnixMilli()); err != nil {
				t.Fatalf("Put(%s, %d) = %v; want nil", u, id, err)
			}
		}
		if err := s.put(ctx, u, testMsg(3, now+60000, u), 3, time.Now().UnixMilli()); err != nil {
			t.Errorf("Put(%s, 3 again, full) = %v; want nil (already stored)", u, err)
		}
		if err := s.put(ctx, u, testMsg(4, now+60000, u), 3, time.Now().UnixMilli()); !errors.Is(err, ErrUserFull) {
			t.Errorf("Put(%s, 4th, max 3) = %v; want ErrUserFull", u, err)
		}
	}
	for i, u := range users {
		if got := pendingIDs(t, other, u, now); !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Errorf("Pending(%s) on shard %d through another client = %v; want [1 2 3]", u, i, got)
		}
		if n, err := other.ack(ctx, u, 2); n != 2 || err != nil {
			t.Errorf("Ack(%s, 2) = %d, %v; want 2, nil", u, n, err)
		}
		if got := pendingIDs(t, s, u, now); !slices.Equal(got, []uint64{3}) {
			t.Errorf("Pending(%s) after Ack 2 = %v; want [3]", u, got)
		}
		if n, err := redistest.Do(rc.Addrs()[i], "ZCARD", keyQueue("pw:", u)); n != "1" || err != nil {
			t.Errorf("shard %d: ZCARD %s = %q, %v; want 1", i, keyQueue("pw:", u), n, err)
		}
	}
}
