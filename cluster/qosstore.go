package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// StoredMessage is one QoS 1 message as kept for a user.
type StoredMessage struct {
	ID          uint64 // message id; increasing per user (ids are 64-bit: time<<22 | counter<<10 | node)
	ExpiresAt   int64  // unix ms
	To          string // the address it was published to, e.g. "user:42"
	Event       string
	ContentType string
	JSON        bool
	Data        []byte
}

// RedisStoreOptions configures a RedisStore.
type RedisStoreOptions struct {
	URL       string        // same as the directory's
	OpTimeout time.Duration // bound on every Redis request; 0 = 1s
	Prefix    string        // key prefix; "" = "pw:"
	Logger    *slog.Logger  // nil = slog.Default()
	Observer  Observer      // Redis request latency for /metrics (idempotency keys too); nil = none
}

// ErrStoreFull means the user already has the most unexpired messages Put allows.
var ErrStoreFull = errors.New("cluster: message store full for user")

// storeRetryGap is the least time between two dials of the store while Redis is unreachable
// (each failure is logged). Once dialled, rueidis reconnects by itself.
const storeRetryGap = 500 * time.Millisecond

// errStoreNotConnected is the cause wrapped in ErrDirectoryDown while no client could be made.
var errStoreNotConnected = errors.New("redis store not connected")

// RedisStore keeps QoS 1 messages per user in Redis (cluster mode, SPEC §5): stored before the
// publish is answered, removed by cumulative acks or when their TTL ends, and read back in id
// order by whichever node the user reconnects to. See doc.go ("QoS 1 message store") for keys.
//
// Every method is safe for concurrent use. Failures to reach Redis come back within OpTimeout
// as errors wrapping ErrDirectoryDown; the store recovers by itself when Redis answers again.
//
// Lock contract: mu guards closed, dialing, dialErr and lastTry; it is never held across I/O
// (the one goroutine that dials sets dialing and releases mu first).
type RedisStore struct {
	o    RedisStoreOptions
	copt rueidis.ClientOption
	cli  atomic.Pointer[rueidis.Client] // nil until the first successful dial, and after Close

	mu      sync.Mutex
	closed  bool
	dialing chan struct{} // non-nil while a dial runs; closed when it ends
	dialErr error         // the last dial's error
	lastTry time.Time
}

// NewRedisStore checks the options. It does not dial: the first request does (Redis may be
// down when the node starts); requests that come while it dials wait for that dial, and while
// Redis stays unreachable a new dial is tried at most every storeRetryGap; in between, requests
// fail at once.
func NewRedisStore(o RedisStoreOptions) (*RedisStore, error) {
	if o.OpTimeout <= 0 {
		o.OpTimeout = time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "pw:"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	copt, err := redisClientOption(o.URL, o.OpTimeout)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis url: %w", err)
	}
	copt.DisableCache = true // every read must see the latest acks; nothing here is worth caching
	return &RedisStore{o: o, copt: copt}, nil
}

// Close closes the Redis client. Requests after Close fail with ErrClosed.
func (s *RedisStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if p := s.cli.Swap(nil); p != nil {
		(*p).Close()
	}
	return nil
}

// client returns the rueidis client, dialling when there is none yet. A caller that comes while
// another goroutine dials waits for that dial (until ctx ends) rather than failing: a new node's
// first subscribers race the first dial (on a Redis Cluster it asks a seed for the slot map and
// then dials every master), and failing them would skip their QoS 1 replay. While Redis stays
// unreachable a dial is tried at most every storeRetryGap; in between, callers fail at once.
func (s *RedisStore) client(ctx context.Context) (rueidis.Client, error) {
	for {
		if p := s.cli.Load(); p != nil {
			return *p, nil
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if p := s.cli.Load(); p != nil {
			s.mu.Unlock()
			return *p, nil
		}
		if wait := s.dialing; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w: %w", ErrDirectoryDown, errStoreNotConnected, ctx.Err())
			}
		}
		now := time.Now()
		if now.Sub(s.lastTry) < storeRetryGap {
			err := s.dialErr
			s.mu.Unlock()
			if err == nil {
				err = errStoreNotConnected
			}
			return nil, fmt.Errorf("%w: %w", ErrDirectoryDown, err)
		}
		done := make(chan struct{})
		s.dialing, s.lastTry = done, now
		s.mu.Unlock()
		return s.dial(done)
	}
}

// dial makes the client; done is closed, for the callers waiting on it, once the outcome is set.
func (s *RedisStore) dial(done chan struct{}) (rueidis.Client, error) {
	c, err := rueidis.NewClient(s.copt) // dials; bounded by Dialer.Timeout = OpTimeout
	if err == nil {
		c = timed(c, s.o.Observer)
	}

	s.mu.Lock()
	s.dialing, s.dialErr = nil, err
	closed := s.closed
	if err == nil && !closed {
		s.cli.Store(&c)
	}
	s.mu.Unlock()
	close(done)
	switch {
	case err != nil:
		s.o.Logger.Warn("cluster: redis message store unreachable", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrDirectoryDown, err)
	case closed:
		c.Close()
		return nil, ErrClosed
	}
	return c, nil
}

// do runs one request bounded by OpTimeout. A connection that broke while idle reports its
// error on first use, after rueidis has replaced it, so a non-Redis error is retried at once. Every request the store sends is idempotent (Put's script checks for its member).
func (s *RedisStore) do(ctx context.Context, req func(ctx context.Context, c rueidis.Client) rueidis.RedisResult) (rueidis.RedisResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
	defer cancel()
	c, err := s.client(ctx)
	if err != nil {
		return rueidis.RedisResult{}, err
	}
	r := req(ctx, c)
	// rueidis multiplexes several connections; after Redis restarted each may report its break
	// once, so a few immediate retries get through (a Redis that is down refuses them at once).
	for try := 0; try < 3 && r.NonRedisError() != nil && ctx.Err() == nil; try++ {
		r = req(ctx, c)
	}
	if err := r.NonRedisError(); err != nil {
		if errors.Is(err, rueidis.ErrClosing) && s.isClosed() {
			return r, ErrClosed
		}
		return r, fmt.Errorf("%w: %w", ErrDirectoryDown, err)
	}
	return r, nil
}

func (s *RedisStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// putScript stores one member unless the user is full, and keeps the key alive as long as its
// longest-lived message. KEYS[1] the user's queue; ARGV: member, its expiry (unix ms),
// maxPerUser (0 = no limit), now (unix ms).
//
// A member already present (a retried Put whose first answer was lost) counts as stored. Only
// when the queue is full are expired members looked for and removed, so a user who never
// reconnects is not kept full by messages nobody can receive any more. PEXPIRETIME is -1 for a
// key without a TTL (one just created by ZADD), so the first message sets the expiry and later
// ones only extend it (PEXPIREAT ... GT would leave a fresh key without any TTL).
var putScript = rueidis.NewLuaScript(`
local k = KEYS[1]
if redis.call('ZSCORE', k, ARGV[1]) then
  return 1
end
local max = tonumber(ARGV[3])
if max > 0 then
  local n = redis.call('ZCARD', k)
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
    if n - #dead >= max then
      return 0
    end
  end
end
redis.call('ZADD', k, 0, ARGV[1])
if redis.call('PEXPIRETIME', k) < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', k, ARGV[2])
end
return 1
`)

// Put stores m for user before the publish is answered. It returns ErrStoreFull when the user
// already has maxPerUser unexpired messages (expired ones are dropped to make room; maxPerUser
// <= 0 means no limit). Storing the same message again is a no-op. The user's key expires with
// its longest-lived message.
func (s *RedisStore) Put(ctx context.Context, user string, m *StoredMessage, maxPerUser int) error {
	member := rueidis.BinaryString(appendQoSMember(nil, m))
	key := keyQueue(s.o.Prefix, user)
	args := []string{member, strconv.FormatInt(max(m.ExpiresAt, 0), 10),
		strconv.Itoa(max(maxPerUser, 0)), strconv.FormatInt(time.Now().UnixMilli(), 10)}
	r, err := s.do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return putScript.Exec(ctx, c, []string{key}, args)
	})
	if err != nil {
		return err
	}
	stored, err := r.AsInt64()
	if err != nil {
		return fmt.Errorf("cluster: redis store put: %w", err)
	}
	if stored == 0 {
		return ErrStoreFull
	}
	return nil
}

// Ack removes every message of user with an id <= upTo and returns how many. The server acks
// with AckIDs (only what was sent); Ack is for tools and tests that clear a user's queue.
func (s *RedisStore) Ack(ctx context.Context, user string, upTo uint64) (int, error) {
	key := keyQueue(s.o.Prefix, user)
	// Every member of id upTo starts with pad20(upTo) ":" and a digit, all below ":\xff".
	hi := string(appendPad20(append(make([]byte, 0, 23), '['), upTo)) + ":\xff"
	r, err := s.do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Zremrangebylex().Key(key).Min("-").Max(hi).Build())
	})
	if err != nil {
		return 0, err
	}
	n, err := r.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("cluster: redis store ack: %w", err)
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

// AckIDs removes exactly the user's messages whose ids are listed (the ones a connection was
// sent: an ack never removes a message nobody was sent) and returns the ids it removed, in the
// order given. Ids not stored (acknowledged already, expired, or not stored yet: a local
// delivery is written before its Put) are left out of the answer. One script call, one key.
func (s *RedisStore) AckIDs(ctx context.Context, user string, ids []uint64) ([]uint64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	key := keyQueue(s.o.Prefix, user)
	args := make([]string, len(ids))
	var pad [20]byte
	for i, id := range ids {
		args[i] = string(appendPad20(pad[:0], id))
	}
	r, err := s.do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return ackIDsScript.Exec(ctx, c, []string{key}, args)
	})
	if err != nil {
		return nil, err
	}
	texts, err := r.AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("cluster: redis store ack: %w", err)
	}
	removed := make([]uint64, 0, len(texts))
	for _, t := range texts {
		id, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cluster: redis store ack: id %q: %w", t, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// Pending returns user's messages that have not expired by nowMs (unix ms), in id order, and
// removes the expired ones from Redis. Each message's Data is its own copy. A member that does
// not decode (written by a newer encoding) is skipped with a warning and left to its TTL.
func (s *RedisStore) Pending(ctx context.Context, user string, nowMs int64) ([]StoredMessage, error) {
	key := keyQueue(s.o.Prefix, user)
	r, err := s.do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return c.Do(ctx, c.B().Zrange().Key(key).Min("-").Max("+").Bylex().Build())
	})
	if err != nil {
		return nil, err
	}
	members, err := r.AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("cluster: redis store pending: %w", err)
	}
	var out []StoredMessage
	var dead []string
	for _, mb := range members {
		m, err := decodeQoSMember(mb)
		if err != nil {
			s.o.Logger.Warn("cluster: undecodable stored message skipped", "key", key, "err", err)
			continue
		}
		if m.ExpiresAt <= nowMs {
			dead = append(dead, mb)
			continue
		}
		out = append(out, m)
	}
	if len(dead) > 0 {
		// The messages are already left out; failing to delete them only leaves them to the
		// next Pending or to the key's own expiry.
		_, _ = s.do(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return c.Do(ctx, c.B().Zrem().Key(key).Member(dead...).Build())
		})
	}
	return out, nil
}

// keyQueue is the ZSET holding user's QoS 1 messages.
func keyQueue(p, user string) string { return p + "q:" + user }

// QoS member encoding. Every member has score 0, so the ZSET orders members bytewise; the
// zero-padded decimal id first makes that id order (ids exceed 2^53 and cannot be scores):
//
//	pad20(id) ':' decimal(expiresAt) ':' flags
//	    uvarint(len(to)) to  uvarint(len(event)) event  uvarint(len(contentType)) contentType
//	    data (the rest)
//
// flags: bit 0 = JSON; the other bits are reserved (a member with any set fails to decode).
// The expiry is decimal text so that putScript can read it.
const qosFlagJSON = 1

var errQoSMember = errors.New("cluster: malformed stored message")

// appendPad20 appends id as 20 decimal digits (the width of the largest uint64).
func appendPad20(dst []byte, id uint64) []byte {
	var b [20]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + id%10)
		id /= 10
	}
	return append(dst, b[:]...)
}

// appendQoSMember appends m's member encoding to dst.
func appendQoSMember(dst []byte, m *StoredMessage) []byte {
	dst = appendPad20(dst, m.ID)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, max(m.ExpiresAt, 0), 10)
	dst = append(dst, ':')
	var flags byte
	if m.JSON {
		flags |= qosFlagJSON
	}
	dst = append(dst, flags)
	for _, f := range [...]string{m.To, m.Event, m.ContentType} {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return append(dst, m.Data...)
}

// decodeQoSMember decodes a member. The strings share s's memory; Data is a copy.
func decodeQoSMember(s string) (StoredMessage, error) {
	var m StoredMessage
	if len(s) < 24 || s[20] != ':' {
		return m, errQoSMember
	}
	id, err := strconv.ParseUint(s[:20], 10, 64)
	if err != nil {
		return m, errQoSMember
	}
	m.ID = id
	s = s[21:]
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return m, errQoSMember
	}
	if m.ExpiresAt, err = strconv.ParseInt(s[:i], 10, 64); err != nil || m.ExpiresAt < 0 {
		return m, errQoSMember
	}
	s = s[i+1:]
	if len(s) == 0 || s[0]&^qosFlagJSON != 0 {
		return m, errQoSMember
	}
	m.JSON = s[0]&qosFlagJSON != 0
	s = s[1:]
	for _, f := range [...]*string{&m.To, &m.Event, &m.ContentType} {
		n, w := uvarintString(s)
		if w <= 0 || n > uint64(len(s)-w) {
			return m, errQoSMember
		}
		*f = s[w : w+int(n)]
		s = s[w+int(n):]
	}
	if len(s) > 0 {
		m.Data = []byte(s)
	}
	return m, nil
}

// uvarintString is binary.Uvarint on a string (no copy).
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
