package admit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/cluster/redisconn"
)

// Idempotency keys (SPEC §4): a publish that carries one claims it before
// anything is delivered; a later publish with the same key, on any node,
// finds the claim and gets the first publish's answer instead of being
// delivered again. A claim holds "pending" until the first publish's answer
// is recorded, for at most the hold; the answer then stays for the window.
//
// A pending value is a token unique to the claim ("p" + node + a counter),
// so a claim retried after a lost reply recognises its own hold; an answer
// is what the server recorded, which never starts with 'p'.

// Claim is what claiming one key found.
type Claim struct {
	Won     bool   // the key was free (or held by this very claim): deliver, then Record
	Pending bool   // another publish holds the key and has no answer yet
	Answer  []byte // otherwise: the first publish's recorded answer
}

// Idempotency claims keys and keeps their answers: IdemMemory on one
// node, IdemRedis across a cluster. Claims and records of one call are one
// round trip for all their keys.
type Idempotency interface {
	// Claim claims each key; out[i] is keys[i]'s outcome. An error (Redis
	// unreachable) means no key was claimed by this call: deliver nothing.
	Claim(ctx context.Context, keys []string, out []Claim) error
	// Record stores answers[i] for keys[i], a key this node won, for the
	// window; a nil answer releases the key, so a retry delivers afresh.
	// It may keep answers[i]: the caller must not change it afterwards.
	Record(ctx context.Context, keys []string, answers [][]byte) error
}

// IdemOptions configures an Idempotency.
type IdemOptions struct {
	Window time.Duration // how long a recorded answer is kept (--idempotency-window)
	Hold   time.Duration // how long a claim waits for its answer before it lapses
	Node   string        // this node's id, part of the pending token
	Keys   int           // IdemMemory only: most keys kept; the oldest go first when full
	Prefix string        // IdemRedis only: key prefix; "" = "pw:"
}

// ErrIdemClaimLost means a key's hold lapsed (the publish took longer than
// the hold) before its answer could be recorded: a retry may deliver again.
var ErrIdemClaimLost = errors.New("admit: idempotency key hold lapsed before its answer was recorded")

var idemTokens atomic.Uint64

func newIdemToken(node string) []byte {
	return fmt.Appendf(nil, "p%s:%d", node, idemTokens.Add(1))
}

func keyIdem(p, key string) string { return p + "i:{" + key + "}" }

// IdemRedis keeps idempotency keys in Redis, on each key's own slot (its
// name is the key's hash tag), over the connection the QoS 1 mailbox uses.
type IdemRedis struct {
	o    IdemOptions
	conn *redisconn.Conn
}

// NewIdemRedis keeps keys through conn.
func NewIdemRedis(conn *redisconn.Conn, o IdemOptions) *IdemRedis {
	if o.Prefix == "" {
		o.Prefix = "pw:"
	}
	return &IdemRedis{o: o, conn: conn}
}

// Claim sends SET key token NX GET PX hold for every key, pipelined.
func (r *IdemRedis) Claim(ctx context.Context, keys []string, out []Claim) error {
	tokens := make([][]byte, len(keys))
	build := func(c rueidis.Client) rueidis.Commands {
		cmds := make(rueidis.Commands, len(keys))
		for i, k := range keys {
			if tokens[i] == nil {
				tokens[i] = newIdemToken(r.o.Node)
			}
			cmds[i] = c.B().Set().Key(keyIdem(r.o.Prefix, k)).Value(rueidis.BinaryString(tokens[i])).
				Nx().Get().PxMilliseconds(r.o.Hold.Milliseconds()).Build()
		}
		return cmds
	}
	res, err := r.conn.DoMulti(ctx, build)
	if err != nil {
		return err
	}
	for i, rr := range res {
		v, err := rr.AsBytes()
		switch {
		case rueidis.IsRedisNil(err), err == nil && bytes.Equal(v, tokens[i]):
			out[i] = Claim{Won: true}
		case err != nil:
			return fmt.Errorf("%w: %w", cluster.ErrDirectoryDown, err)
		case len(v) > 0 && v[0] == 'p':
			out[i] = Claim{Pending: true}
		default:
			out[i] = Claim{Answer: v}
		}
	}
	return nil
}

// Record sends SET key answer XX PX window (or DEL) for every key, pipelined.
func (r *IdemRedis) Record(ctx context.Context, keys []string, answers [][]byte) error {
	res, err := r.conn.DoMulti(ctx, func(c rueidis.Client) rueidis.Commands {
		cmds := make(rueidis.Commands, len(keys))
		for i, k := range keys {
			if answers[i] == nil {
				cmds[i] = c.B().Del().Key(keyIdem(r.o.Prefix, k)).Build()
				continue
			}
			cmds[i] = c.B().Set().Key(keyIdem(r.o.Prefix, k)).Value(rueidis.BinaryString(answers[i])).
				Xx().PxMilliseconds(r.o.Window.Milliseconds()).Build()
		}
		return cmds
	})
	if err != nil {
		return err
	}
	for i, rr := range res {
		if err := rr.Error(); err != nil && answers[i] != nil {
			if rueidis.IsRedisNil(err) {
				return ErrIdemClaimLost
			}
			return fmt.Errorf("%w: %w", cluster.ErrDirectoryDown, err)
		}
	}
	return nil
}
