package admit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
)

// UserConns keeps, per user, the conn keys of the user's streams and when each began, for the
// per-user connection policy (--max-conns-per-user, --user-conn-policy; SPEC §7). Two
// implementations: UserConnsMemory (standalone: one node, exact) and UserConnsRedis (a cluster:
// one sorted set per user, changed by one atomic script, so two nodes admitting streams of one
// user at once are ordered by Redis and never both pass the count).
type UserConns interface {
	// Admit enters key (a conn key, "<random>.<node id>") for user, begun at atMs (unix ms),
	// unless the user already holds max keys: then with refuse nothing is entered and the
	// result says Refused (Held lists the keys that count), and without refuse the oldest keys
	// are taken out to make room and listed in Evicted, for the caller to kick. Keys of nodes
	// not in live (the nodes whose heartbeat lives) are dropped first: they hold nothing.
	// Entering a key already entered is a no-op that succeeds (a retried request).
	Admit(ctx context.Context, user, key string, atMs int64, max int, refuse bool, live []string) (Admission, error)
	// Leave takes key out of user's keys (the stream ended).
	Leave(ctx context.Context, user string, keys ...string) error
	// LeaveAll is Leave for each user of batch, at once (one pipeline in Redis). An error
	// means any of them may not be done; doing one again is harmless.
	LeaveAll(ctx context.Context, batch []UserKeys) error
	// Reenter enters again keys of streams that live (a node's own, after its entries in Redis
	// may have been lost or dropped: it re-synced), each with its start time, where they are
	// not entered: nothing is refused, evicted or dropped for them.
	Reenter(ctx context.Context, keys []HeldKey) error
}

// UserKeys are conn keys of one user's streams that ended (UserConns.LeaveAll).
type UserKeys struct {
	User string
	Keys []string
}

// HeldKey is one stream's conn key, its user and when it began (unix ms), for Reenter.
type HeldKey struct {
	User, Key string
	AtMs      int64
}

// Admission is the outcome of UserConns.Admit.
type Admission struct {
	Refused bool
	Held    []string // Refused: the keys the user holds
	Evicted []string // not Refused: the keys taken out, oldest first
}

// keyUserConns is a user's conn keys, scored by when each stream began.
var keyUserConns = cluster.KeyUserConns

// UserConnsRedis keeps each user's conn keys in Redis, over the connection the QoS 1 mailbox
// uses.
type UserConnsRedis struct {
	conn   *redisconn.Conn
	prefix string
}

// NewUserConnsRedis keeps the keys through conn, under prefix ("pw:" when empty).
func NewUserConnsRedis(conn *redisconn.Conn, prefix string) *UserConnsRedis {
	if prefix == "" {
		prefix = "pw:"
	}
	return &UserConnsRedis{conn: conn, prefix: prefix}
}

// admitScript is Admit in one step. KEYS[1] the user's sorted set; ARGV: the key, its start
// (unix ms, the score), max, refuse ("1" or "0"), then the live node ids. It answers
// {1, evicted...} when the key is entered, {0, held...} when it is refused.
//
// A key's node is what follows its last '.' (node ids have no dots). Keys are few per user
// (about max), so reading them all is cheap.
var admitScript = rueidis.NewLuaScript(`
local k, key = KEYS[1], ARGV[1]
if redis.call('ZSCORE', k, key) then
  return {1}
end
local live = {}
for i = 5, #ARGV do
  live[ARGV[i]] = true
end
local dead = {}
for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do
  local node = string.match(m, '%.([^.]+)$')
  if not node or not live[node] then
    dead[#dead + 1] = m
  end
end
for i = 1, #dead, 1000 do
  redis.call('ZREM', k, unpack(dead, i, math.min(i + 999, #dead)))
end
local n, max = redis.call('ZCARD', k), tonumber(ARGV[3])
local out = {1}
if n >= max then
  if ARGV[4] == '1' then
    out = redis.call('ZRANGE', k, 0, -1)
    table.insert(out, 1, 0)
    return out
  end
  for _, m in ipairs(redis.call('ZRANGE', k, 0, n - max)) do
    redis.call('ZREM', k, m)
    out[#out + 1] = m
  end
end
redis.call('ZADD', k, ARGV[2], key)
return out
`)

// Admit implements UserConns. A retry after a lost answer finds the key entered and reports
// nothing evicted: those evictions' kicks are lost with the answer (the streams stay until
// they end; the user holds more than max until then).
func (u *UserConnsRedis) Admit(ctx context.Context, user, key string, atMs int64, max int, refuse bool, live []string) (Admission, error) {
	args := make([]string, 0, 4+len(live))
	args = append(args, key, strconv.FormatInt(atMs, 10), strconv.Itoa(max), "0")
	if refuse {
		args[3] = "1"
	}
	args = append(args, live...)
	k := keyUserConns(u.prefix, user)
	r, err := u.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return admitScript.Exec(ctx, c, []string{k}, args)
	})
	if err != nil {
		return Admission{}, err
	}
	vs, err := r.ToArray()
	if err != nil || len(vs) == 0 {
		return Admission{}, fmt.Errorf("cluster: admit script answered %v: %w", vs, err)
	}
	entered, err := vs[0].AsInt64()
	if err != nil {
		return Admission{}, fmt.Errorf("cluster: admit script: %w", err)
	}
	keys := make([]string, 0, len(vs)-1)
	for _, v := range vs[1:] {
		s, err := v.ToString()
		if err != nil {
			return Admission{}, fmt.Errorf("cluster: admit script: %w", err)
		}
		keys = append(keys, s)
	}
	if entered == 0 {
		return Admission{Refused: true, Held: keys}, nil
	}
	return Admission{Evicted: keys}, nil
}

// Leave implements UserConns.
func (u *UserConnsRedis) Leave(ctx context.Context, user string, keys ...string) error {
	k := keyUserConns(u.prefix, user)
	_, err := u.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Zrem().Key(k).Member(keys...).Build())
	})
	return err
}

// LeaveAll implements UserConns: one ZREM per user, pipelined (a mass disconnect's Leaves in
// a few round trips, not one each; rueidis splits a pipeline by slot on Redis Cluster).
func (u *UserConnsRedis) LeaveAll(ctx context.Context, batch []UserKeys) error {
	res, err := u.conn.DoMulti(ctx, func(c rueidis.Client) rueidis.Commands {
		cmds := make(rueidis.Commands, 0, len(batch))
		for _, uk := range batch {
			cmds = append(cmds, c.B().Zrem().Key(keyUserConns(u.prefix, uk.User)).Member(uk.Keys...).Build())
		}
		return cmds
	})
	if err != nil {
		return err
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return fmt.Errorf("cluster: leave: %w", err)
		}
	}
	return nil
}

// Reenter implements UserConns: one ZADD NX per key, pipelined.
func (u *UserConnsRedis) Reenter(ctx context.Context, keys []HeldKey) error {
	if len(keys) == 0 {
		return nil
	}
	rs, err := u.conn.DoMulti(ctx, func(c rueidis.Client) rueidis.Commands {
		cmds := make(rueidis.Commands, 0, len(keys))
		for _, h := range keys {
			cmds = append(cmds, c.B().Zadd().Key(keyUserConns(u.prefix, h.User)).Nx().ScoreMember().ScoreMember(float64(h.AtMs), h.Key).Build())
		}
		return cmds
	})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// UserConnsMemory is UserConns for one node alone: a map under a mutex, exact.
type UserConnsMemory struct {
	mu    sync.Mutex
	users map[string][]heldKey // oldest first
}

type heldKey struct {
	key string
	at  int64
}

// NewUserConnsMemory returns an empty UserConnsMemory.
func NewUserConnsMemory() *UserConnsMemory {
	return &UserConnsMemory{users: map[string][]heldKey{}}
}

// Admit implements UserConns; live is not looked at (the node is alone).
func (u *UserConnsMemory) Admit(_ context.Context, user, key string, atMs int64, max int, refuse bool, _ []string) (Admission, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	held := u.users[user]
	if slices.ContainsFunc(held, func(h heldKey) bool { return h.key == key }) {
		return Admission{}, nil
	}
	var a Admission
	if n := len(held); n >= max {
		if refuse {
			a = Admission{Refused: true, Held: make([]string, n)}
			for i, h := range held {
				a.Held[i] = h.key
			}
			return a, nil
		}
		for _, h := range held[:n-max+1] {
			a.Evicted = append(a.Evicted, h.key)
		}
		held = slices.Delete(held, 0, n-max+1)
	}
	u.users[user] = held
	u.enter(user, key, atMs)
	return a, nil
}

// Reenter implements UserConns (a node alone never loses its keys, but an upgrade enters the
// streams it adopts so).
func (u *UserConnsMemory) Reenter(_ context.Context, keys []HeldKey) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, h := range keys {
		u.enter(h.User, h.Key, h.AtMs)
	}
	return nil
}

// enter puts key in user's keys in start order, unless it is there. u.mu must be held.
func (u *UserConnsMemory) enter(user, key string, atMs int64) {
	held := u.users[user]
	if slices.ContainsFunc(held, func(h heldKey) bool { return h.key == key }) {
		return
	}
	at, _ := slices.BinarySearchFunc(held, atMs, func(h heldKey, t int64) int {
		if h.at <= t {
			return -1
		}
		return 1
	})
	u.users[user] = slices.Insert(held, at, heldKey{key: strings.Clone(key), at: atMs})
}

// Leave implements UserConns.
func (u *UserConnsMemory) Leave(_ context.Context, user string, keys ...string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	held := slices.DeleteFunc(u.users[user], func(h heldKey) bool { return slices.Contains(keys, h.key) })
	if len(held) == 0 {
		delete(u.users, user)
		return nil
	}
	u.users[user] = held
	return nil
}

// LeaveAll implements UserConns.
func (u *UserConnsMemory) LeaveAll(ctx context.Context, batch []UserKeys) error {
	for _, uk := range batch {
		u.Leave(ctx, uk.User, uk.Keys...)
	}
	return nil
}
