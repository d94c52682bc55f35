package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster/redisconn"
	"github.com/pushwire/pushwire/push"
)

// Redis is the cluster's Mailbox (SPEC §5): each user's messages in one Redis key, stored
// before the publish is answered, removed by acks or when their TTL ends, and read back in id
// order by whichever node the user reconnects to. Every call is a Redis round trip: callers
// make them away from the event loops.
//
//	pw:q:<user>       ZSET    every member has score 0, so members sort bytewise; each is
//	                          pad20(id) ":" expiresAt-ms ":" flags, then length-prefixed to,
//	                          event, content type, and the data (binary-safe; member.go);
//	                          and "!" pad20(id), the user's lost mark (lost.go): the newest
//	                          message that expired unacknowledged, sorted before every message
//
// The 20-digit zero-padded id first makes bytewise order id order (ids exceed 2^53, so they
// cannot be scores). Put is one Lua script on that key: a member already present counts as
// stored (a retried Put is a no-op); when the user holds perUser members it removes the
// expired ones (raising the lost mark) and, if still full, answers ErrUserFull; otherwise ZADD,
// and the key's expiry is raised to the message's plus as long again (at least an hour:
// lostUntil), PEXPIREAT when PEXPIRETIME is lower, which also covers a key just created without
// a TTL; so the key outlives its longest-lived message by the time its lost mark is kept, and a
// message that expires unread is still found, and noted lost, when its user comes back.
// AckIDs(ids) is one script that ZREMRANGEBYLEXes ["pad20(id):", "pad20(id);") for each id given
// and returns the ids it removed: the server acks exactly the messages it sent (issue 9), never
// a stored one nobody was sent. ack(upTo) (ZREMRANGEBYLEX key - "[pad20(upTo):\xff", every member
// up to upTo) is for tests. AppendPending is ZRANGE key - + BYLEX; members expired at the
// caller's now are left out and ZREMed. Only single-key commands and one-key scripts, so Redis
// Cluster works (rediscluster_test.go). The connection (redisconn.Conn) dials lazily and
// bounds every request; the scripts are re-sent on NOSCRIPT after a Redis restart.
//
// Every method is safe for concurrent use. Failures to reach Redis come back within the
// connection's OpTimeout as errors wrapping cluster.ErrDirectoryDown; the store recovers by
// itself when Redis answers again.
type Redis[M Message] struct {
	conn    *redisconn.Conn
	prefix  string
	perUser int
	make    func(*push.Message) M
}

// NewRedis keeps at most perUser unexpired messages per user (--store-messages; <= 0: no
// limit) through conn, under keys that start with prefix ("" = "pw:"). make turns a message
// read back (its fields views into Redis's answer, valid during the call) into one the caller
// owns, holding one reference.
func NewRedis[M Message](conn *redisconn.Conn, prefix string, perUser int, make func(*push.Message) M) *Redis[M] {
	if prefix == "" {
		prefix = "pw:"
	}
	return &Redis[M]{conn: conn, prefix: prefix, perUser: perUser, make: make}
}

// Put stores m for user; ErrUserFull when the user already has perUser unexpired messages.
func (s *Redis[M]) Put(ctx context.Context, user []byte, m M, nowMs int64) error {
	return s.put(ctx, viewString(user), m.Push(), s.perUser, nowMs)
}

// AckIDs removes the listed ids of user and appends those it removed to dst.
func (s *Redis[M]) AckIDs(ctx context.Context, dst []uint64, user []byte, ids []uint64) ([]uint64, error) {
	removed, err := s.ackIDs(ctx, viewString(user), ids)
	return append(dst, removed...), err
}

// AppendPending appends user's unexpired messages, in id order, each made by make, and returns
// the user's lost mark.
func (s *Redis[M]) AppendPending(ctx context.Context, dst []M, user []byte, nowMs int64) ([]M, uint64, error) {
	msgs, lost, err := s.pending(ctx, viewString(user), nowMs)
	for i := range msgs {
		dst = append(dst, s.make(&msgs[i]))
	}
	return dst, lost, err
}

// viewString is user as a string without a copy, for the duration of a call.
func viewString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// putScript stores one member unless the user is full, and keeps the key alive as long as its
// longest-lived message. KEYS[1] the user's queue; ARGV: member, its expiry (unix ms),
// maxPerUser (0 = no limit), now (unix ms).
//
// A member already present (a retried Put whose first answer was lost) counts as stored. Only
// when the queue is full are expired members looked for and removed, so a user who never
// reconnects is not kept full by messages nobody can receive any more. PEXPIRETIME is -1 for a
// key without a TTL (one just created by ZADD), so the first message sets the expiry and later
// ones only extend it (PEXPIREAT ... GT would leave a fresh key without any TTL).
var putScript = rueidis.NewLuaScript(putSrc)

const putSrc = `
local k = KEYS[1]
if redis.call('ZSCORE', k, ARGV[1]) then
  return 1
end
local max = tonumber(ARGV[3])
if max > 0 then
  local n = redis.call('ZCARD', k) - redis.call('ZLEXCOUNT', k, '[!', '(0')
  if n >= max then
    local now = tonumber(ARGV[4])
    local dead = {}
    for _, m in ipairs(redis.call('ZRANGE', k, '-', '+', 'BYLEX')) do
      local e = tonumber(string.match(m, '^%d+:(%d+):'))
      if e and e <= now then
        dead[#dead + 1] = m
      end
    end
    for i = 1, #dead, 1000 do
      redis.call('ZREM', k, unpack(dead, i, math.min(i + 999, #dead)))
    end
    if #dead > 0 then
      local marks = redis.call('ZRANGE', k, '[!', '(0', 'BYLEX')
      local top = '!' .. string.sub(dead[#dead], 1, 20)
      if #marks == 0 or marks[#marks] < top then
        if #marks > 0 then
          redis.call('ZREM', k, unpack(marks))
        end
        redis.call('ZADD', k, 0, top)
      end
    end
    if n - #dead >= max then
      return 0
    end
  end
end
redis.call('ZADD', k, 0, ARGV[1])
local exp = tonumber(ARGV[2])
local keep = exp + math.max(exp - tonumber(ARGV[4]), ` + lostKeepMin + `)
if exp <= 0 then
  keep = exp
end
if redis.call('PEXPIRETIME', k) < keep then
  redis.call('PEXPIREAT', k, keep)
end
return 1
`

// lostKeepMin is lostKeepMinMs in the scripts' text.
const lostKeepMin = "3600000"

// put stores m for user before the publish is answered. It returns ErrUserFull when the user
// already has maxPerUser unexpired messages (expired ones are dropped to make room; maxPerUser
// <= 0 means no limit). Storing the same message again is a no-op. The user's key expires with
// its longest-lived message.
func (s *Redis[M]) put(ctx context.Context, user string, m *push.Message, maxPerUser int, nowMs int64) error {
	member := rueidis.BinaryString(appendQoSMember(nil, m))
	key := keyQueue(s.prefix, user)
	args := []string{member, strconv.FormatInt(max(m.Expiry, 0), 10),
		strconv.Itoa(max(maxPerUser, 0)), strconv.FormatInt(nowMs, 10)}
	var r rueidis.RedisResult
	var err error
	if s.conn.WaitReplicas() > 0 {
		// --redis ...?wait_replicas=N: the script and a WAIT pipelined on one connection (EVAL,
		// as a NOSCRIPT could not be retried within that pipeline).
		r, err = s.conn.DoDurable(ctx, key, func(c rueidis.Client) rueidis.Completed {
			return c.B().Eval().Script(putSrc).Numkeys(1).Key(key).Arg(args...).Build()
		})
	} else {
		r, err = s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return putScript.Exec(ctx, c, []string{key}, args)
		})
	}
	if err != nil {
		return err
	}
	stored, err := r.AsInt64()
	if err != nil {
		return fmt.Errorf("store: redis put: %w", err)
	}
	if stored == 0 {
		return ErrUserFull
	}
	return nil
}

// ack removes every message of user with an id <= upTo and returns how many. The server acks
// with AckIDs (only what was sent); ack is for tests that clear a user's queue.
func (s *Redis[M]) ack(ctx context.Context, user string, upTo uint64) (int, error) {
	key := keyQueue(s.prefix, user)
	// Every member of id upTo starts with pad20(upTo) ":" and a digit, all below ":\xff".
	hi := string(appendPad20(append(make([]byte, 0, 23), '['), upTo)) + ":\xff"
	r, err := s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Zremrangebylex().Key(key).Min("-").Max(hi).Build())
	})
	if err != nil {
		return 0, err
	}
	n, err := r.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("store: redis ack: %w", err)
	}
	return int(n), nil
}

// ackIDsScript removes, for each id in ARGV (pad20 text), the members of that id: every member
// of id X lies in ["X:", "X;") bytewise (':' is the separator; ';' follows it). KEYS[1] the
// user's queue. It returns the ids it removed members of.
var ackIDsScript = rueidis.NewLuaScript(`
local k, removed = KEYS[1], {}
for _, id in ipairs(ARGV) do
  if redis.call('ZREMRANGEBYLEX', k, '[' .. id .. ':', '(' .. id .. ';') > 0 then
    removed[#removed + 1] = id
  end
end
return removed
`)

// ackIDs removes exactly the user's messages whose ids are listed (the ones a connection was
// sent: an ack never removes a message nobody was sent) and returns the ids it removed, in the
// order given. Ids not stored (acknowledged already, expired, or not stored yet: a local
// delivery is written before its Put) are left out of the answer. One script call, one key.
func (s *Redis[M]) ackIDs(ctx context.Context, user string, ids []uint64) ([]uint64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	key := keyQueue(s.prefix, user)
	args := make([]string, len(ids))
	var pad [20]byte
	for i, id := range ids {
		args[i] = string(appendPad20(pad[:0], id))
	}
	r, err := s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return ackIDsScript.Exec(ctx, c, []string{key}, args)
	})
	if err != nil {
		return nil, err
	}
	texts, err := r.AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("store: redis ack: %w", err)
	}
	removed := make([]uint64, 0, len(texts))
	for _, t := range texts {
		id, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("store: redis ack: id %q: %w", t, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// pending returns user's messages that have not expired by nowMs (unix ms), in id order, and
// the user's lost mark; it removes the expired ones from Redis, raising the mark. Each message's
// Data is its own copy; its other fields are views into Redis's answer. A member that does not
// decode (written by a newer encoding) is skipped with a warning and left to its TTL.
func (s *Redis[M]) pending(ctx context.Context, user string, nowMs int64) ([]push.Message, uint64, error) {
	key := keyQueue(s.prefix, user)
	r, err := s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Zrange().Key(key).Min("-").Max("+").Bylex().Build())
	})
	if err != nil {
		return nil, 0, err
	}
	members, err := r.AsStrSlice()
	if err != nil {
		return nil, 0, fmt.Errorf("store: redis pending: %w", err)
	}
	var out []push.Message
	var dead, marks []string
	var lost uint64
	for _, mb := range members {
		if id, ok := lostMarkID(mb); ok {
			marks, lost = append(marks, mb), max(lost, id)
			continue
		}
		m, err := decodeQoSMember(mb)
		if err != nil {
			s.conn.Logger().Warn("store: undecodable stored message skipped", "key", key, "err", err)
			continue
		}
		if m.Expiry <= nowMs {
			dead, lost = append(dead, mb), max(lost, m.Seq)
			continue
		}
		out = append(out, m)
	}
	if len(dead) > 0 {
		// The messages are already left out and the mark raised in this answer; failing to
		// write that only leaves them to the next Pending or to the key's own expiry. Another
		// node may raise the mark at once: marks are only added, and the highest counts.
		var pad [21]byte
		mark := string(appendPad20(append(pad[:0], '!'), lost))
		_, _ = s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return c.Do(ctx, c.B().Zrem().Key(key).Member(dead...).Build())
		})
		_, _ = s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return c.Do(ctx, c.B().Zadd().Key(key).ScoreMember().ScoreMember(0, mark).Build())
		})
		marks = slices.DeleteFunc(marks, func(m string) bool { return m == mark })
		if len(marks) > 0 {
			_, _ = s.conn.Do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
				return c.Do(ctx, c.B().Zrem().Key(key).Member(marks...).Build())
			})
		}
	}
	return out, lost, nil
}

// lostMarkID reads a lost mark member ("!" pad20(id)).
func lostMarkID(member string) (uint64, bool) {
	if len(member) != 21 || member[0] != '!' {
		return 0, false
	}
	id, err := strconv.ParseUint(member[1:], 10, 64)
	return id, err == nil
}
