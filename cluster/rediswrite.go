package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// kind indexes RedisDirectory.mirror.
type kind uint8

const (
	kindUser kind = iota
	kindTopic
)

// op is one queued change of this node's entries.
type op struct {
	kind kind
	add  bool
	name string
}

func (d *RedisDirectory) AddUser(user string)      { d.change(kindUser, true, user) }
func (d *RedisDirectory) RemoveUser(user string)   { d.change(kindUser, false, user) }
func (d *RedisDirectory) AddTopic(topic string)    { d.change(kindTopic, true, topic) }
func (d *RedisDirectory) RemoveTopic(topic string) { d.change(kindTopic, false, topic) }

// change records a change in the mirror and queues it for run. While a resync is pending the
// op is not queued: the resync writes the whole mirror anyway.
func (d *RedisDirectory) change(k kind, add bool, name string) {
	d.mu.Lock()
	if add {
		d.mirror[k][name] = struct{}{}
	} else {
		delete(d.mirror[k], name)
	}
	if !d.needSync {
		d.ops = append(d.ops, op{kind: k, add: add, name: name})
	}
	d.mu.Unlock()
	d.wake()
}

func (d *RedisDirectory) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Flush waits until the changes made before the call are written. It returns an
// ErrDirectoryDown error if they could not be (they are then re-asserted when Redis is back).
func (d *RedisDirectory) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	d.mu.Lock()
	if !d.started {
		d.mu.Unlock()
		return errNotStarted
	}
	d.waiters = append(d.waiters, ch)
	d.mu.Unlock()
	d.wake()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-d.finished:
		return ErrClosed
	}
}

// flush sends the queued ops as pipelines (run goroutine only) and reports how that went.
func (d *RedisDirectory) flush() error {
	d.mu.Lock()
	ops, waiters, sync := d.ops, d.waiters, d.needSync
	d.ops, d.waiters = nil, nil
	d.mu.Unlock()

	var err error
	switch {
	case sync:
		err = d.beat(context.Background())
	case len(ops) > 0:
		var c rueidis.Client
		if c, err = d.client(); err == nil {
			err = d.send(context.Background(), c, d.opCmds(c, ops))
		}
		if err != nil {
			d.o.Logger.Warn("cluster: redis directory write failed; re-asserting every entry once redis answers", "node", d.o.Self.ID, "err", err)
			d.markUnsynced()
		}
	}
	for _, w := range waiters {
		w <- err
	}
	return err
}

func (d *RedisDirectory) markUnsynced() {
	d.mu.Lock()
	d.needSync = true
	d.quietRe = false // entries may be missing: publishers may have missed the node
	d.ops = nil       // the resync re-asserts the mirror, which already holds their effect
	d.mu.Unlock()
}

// opCmds turns ops into commands: for each op one command on the global index key, and runs of
// equal ops merged into one SADD/SREM on this node's own set.
func (d *RedisDirectory) opCmds(c rueidis.Client, ops []op) rueidis.Commands {
	p, self := d.o.Prefix, d.o.Self.ID
	out := make(rueidis.Commands, 0, len(ops)+len(ops)/64+1)
	var run []string
	flushRun := func(k kind, add bool) {
		if len(run) == 0 {
			return
		}
		out = append(out, nodeSetCmd(c, p, self, k, add, run))
		run = run[:0]
	}
	for i, o := range ops {
		out = append(out, indexCmd(c, p, self, o.kind, o.add, o.name))
		run = append(run, o.name)
		if i+1 == len(ops) || ops[i+1].kind != o.kind || ops[i+1].add != o.add || len(run) >= 512 {
			flushRun(o.kind, o.add)
		}
	}
	return out
}

// indexCmd is the command that adds/removes self under name in the global index.
func indexCmd(c rueidis.Client, p, self string, k kind, add bool, name string) rueidis.Completed {
	if add {
		return c.B().Sadd().Key(indexKey(p, k, name)).Member(self).Build()
	}
	return c.B().Srem().Key(indexKey(p, k, name)).Member(self).Build()
}

func indexKey(p string, k kind, name string) string {
	if k == kindUser {
		return keyUser(p, name)
	}
	return keyTopic(p, name)
}

func nodeSetKey(p, id string, k kind) string {
	if k == kindUser {
		return keyNodeUsers(p, id)
	}
	return keyNodeTopics(p, id)
}

// nodeSetCmd adds/removes names in node id's own set of kind k.
func nodeSetCmd(c rueidis.Client, p, id string, k kind, add bool, names []string) rueidis.Completed {
	if add {
		return c.B().Sadd().Key(nodeSetKey(p, id, k)).Member(names...).Build()
	}
	return c.B().Srem().Key(nodeSetKey(p, id, k)).Member(names...).Build()
}

// send writes cmds in pipelines of BatchCommands; each pipeline is one round trip.
func (d *RedisDirectory) send(ctx context.Context, c rueidis.Client, cmds rueidis.Commands) error {
	for len(cmds) > 0 {
		n := min(len(cmds), d.o.BatchCommands)
		// Background writes are not on anyone's latency path: a big pipeline on a busy Redis
		// gets more time than a lookup. A Redis that is down still fails at once (refused).
		ctx, cancel := context.WithTimeout(ctx, 5*d.o.OpTimeout+time.Duration(n)*10*time.Microsecond)
		rs := c.DoMulti(ctx, cmds[:n]...)
		cancel()
		d.roundTrips.Add(1)
		d.commands.Add(uint64(n))
		for _, r := range rs {
			if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
				return d.down(err)
			}
		}
		cmds = cmds[n:]
	}
	return nil
}

// errNotStarted is returned by Close on a directory never started.
var errNotStarted = errors.New("cluster: directory not started")
