package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Holdings answers whether a node has live connections of a user or subscribers of a topic.
// The in-memory directory reads it in place of registrations: in one process each node's own
// connection table already is the record, so the directory copies no name, and a standalone
// node's connections cost nothing more for having a directory.
type Holdings interface {
	HoldsUser(user string) bool
	HoldsTopic(topic string) bool
}

// MemStore is the in-memory directory store: a standalone node has one of its own; nodes in one
// process that share a store (tests, embedding) find each other through it and talk over links
// as Redis-backed nodes do. Nodes in it never expire: a view leaves only by Close.
//
// Lock contract: mu guards nodes; it is never held while calling out (a Holdings is
// read after the nodes are copied out).
type MemStore struct {
	mu    sync.Mutex
	nodes map[string]memNode // node id → its address and what it holds
	count atomic.Int32       // len(nodes), read without the lock by Alone
}

type memNode struct {
	addr string
	held Holdings // nil: holds nothing
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{nodes: make(map[string]memNode)}
}

// MemDirectory is one node's Directory on a MemStore. Users and topics are read from each
// node's Holdings, so AddUser/RemoveUser/AddTopic/RemoveTopic have nothing to write. Writes apply at once, so Flush has nothing to wait for.
type MemDirectory struct {
	s       *MemStore
	self    Node
	held    Holdings
	started atomic.Bool // self is registered (Start ran, Close not yet)
}

// NewMemDirectory returns self's view of s; held says what self holds (nil: nothing). Call Start
// to register self.
func NewMemDirectory(s *MemStore, self Node, held Holdings) *MemDirectory {
	return &MemDirectory{s: s, self: self, held: held}
}

var _ Directory = (*MemDirectory)(nil)

// Start registers the node.
func (d *MemDirectory) Start(context.Context) error {
	d.s.mu.Lock()
	d.s.nodes[d.self.ID] = memNode{addr: d.self.Addr, held: d.held}
	d.s.count.Store(int32(len(d.s.nodes)))
	d.started.Store(true)
	d.s.mu.Unlock()
	return nil
}

// Close unregisters the node and drops every entry it held.
func (d *MemDirectory) Close() error {
	s, id := d.s, d.self.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, id)
	s.count.Store(int32(len(s.nodes)))
	d.started.Store(false)
	return nil
}

// Alone reports that no node but this one is registered in the store, so every user, topic and
// conn key is either here or nowhere: a standalone node's pushes never need a lookup or a link.
// It is two atomic loads, cheap enough for every publish.
func (d *MemDirectory) Alone() bool {
	self := int32(0)
	if d.started.Load() {
		self = 1
	}
	return d.s.count.Load() <= self
}

// Flush returns at once: writes are already applied.
func (d *MemDirectory) Flush(context.Context) error { return nil }

// NodeAddr returns the link address of a registered node.
func (d *MemDirectory) NodeAddr(_ context.Context, id string) (string, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if n, ok := d.s.nodes[id]; ok {
		return n.addr, nil
	}
	return "", ErrUnknownNode
}

// Nodes returns the registered nodes sorted by id.
func (d *MemDirectory) Nodes(context.Context) ([]Node, error) {
	d.s.mu.Lock()
	out := make([]Node, 0, len(d.s.nodes))
	for id, n := range d.s.nodes {
		out = append(out, Node{ID: id, Addr: n.addr})
	}
	d.s.mu.Unlock()
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// AddUser, RemoveUser, AddTopic and RemoveTopic write nothing: UserNodes and TopicNodes read
// every node's Holdings.
func (d *MemDirectory) AddUser(string)     {}
func (d *MemDirectory) RemoveUser(string)  {}
func (d *MemDirectory) AddTopic(string)    {}
func (d *MemDirectory) RemoveTopic(string) {}

func (d *MemDirectory) UserNodes(_ context.Context, user string) ([]string, error) {
	return d.holders(func(h Holdings) bool { return h.HoldsUser(user) }), nil
}

func (d *MemDirectory) TopicNodes(_ context.Context, topic string) ([]string, error) {
	return d.holders(func(h Holdings) bool { return h.HoldsTopic(topic) }), nil
}

// holders returns, sorted, the ids of the nodes whose Holdings say yes.
func (d *MemDirectory) holders(holds func(Holdings) bool) []string {
	type candidate struct {
		id   string
		held Holdings
	}
	d.s.mu.Lock()
	cands := make([]candidate, 0, len(d.s.nodes))
	for id, n := range d.s.nodes {
		if n.held != nil {
			cands = append(cands, candidate{id, n.held})
		}
	}
	d.s.mu.Unlock()
	out := make([]string, 0, len(cands))
	for _, c := range cands {
		if holds(c.held) {
			out = append(out, c.id)
		}
	}
	slices.Sort(out)
	return out
}

// Stats is all zeros: nothing here costs a round trip.
func (d *MemDirectory) Stats() DirStats { return DirStats{} }
