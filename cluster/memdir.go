package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// MemStore is the in-memory directory store of a standalone node. Several MemDirectory views may
// share one store (tests run many in-process nodes on it); a real standalone node has one view.
// Nodes in it never expire: a view leaves only by Close.
//
// Lock contract: mu guards every map below; it is never held while calling out.
type MemStore struct {
	mu     sync.Mutex
	nodes  map[string]string              // node id → addr
	conns  map[string]string              // conn key → node id
	users  map[string]map[string]struct{} // user → node ids
	topics map[string]map[string]struct{} // topic → node ids
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{
		nodes:  make(map[string]string),
		conns:  make(map[string]string),
		users:  make(map[string]map[string]struct{}),
		topics: make(map[string]map[string]struct{}),
	}
}

// MemDirectory is one node's Directory on a MemStore. Writes apply at once (there is no network
// to batch for), so Flush has nothing to wait for.
type MemDirectory struct {
	s    *MemStore
	self Node
}

// NewMemDirectory returns self's view of s. Call Start to register self.
func NewMemDirectory(s *MemStore, self Node) *MemDirectory {
	return &MemDirectory{s: s, self: self}
}

var _ Directory = (*MemDirectory)(nil)

// Start registers the node.
func (d *MemDirectory) Start(context.Context) error {
	d.s.mu.Lock()
	d.s.nodes[d.self.ID] = d.self.Addr
	d.s.mu.Unlock()
	return nil
}

// Close unregisters the node and drops every entry it held.
func (d *MemDirectory) Close() error {
	s, id := d.s, d.self.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, id)
	for k, n := range s.conns {
		if n == id {
			delete(s.conns, k)
		}
	}
	for _, m := range []map[string]map[string]struct{}{s.users, s.topics} {
		for name, set := range m {
			delete(set, id)
			if len(set) == 0 {
				delete(m, name)
			}
		}
	}
	return nil
}

// Flush returns at once: writes are already applied.
func (d *MemDirectory) Flush(context.Context) error { return nil }

// NodeAddr returns the link address of a registered node.
func (d *MemDirectory) NodeAddr(_ context.Context, id string) (string, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if a, ok := d.s.nodes[id]; ok {
		return a, nil
	}
	return "", ErrUnknownNode
}

// Nodes returns the registered nodes sorted by id.
func (d *MemDirectory) Nodes(context.Context) ([]Node, error) {
	d.s.mu.Lock()
	out := make([]Node, 0, len(d.s.nodes))
	for id, a := range d.s.nodes {
		out = append(out, Node{ID: id, Addr: a})
	}
	d.s.mu.Unlock()
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (d *MemDirectory) AddConn(key string) {
	d.s.mu.Lock()
	d.s.conns[key] = d.self.ID
	d.s.mu.Unlock()
}

func (d *MemDirectory) RemoveConn(key string) {
	d.s.mu.Lock()
	if d.s.conns[key] == d.self.ID {
		delete(d.s.conns, key)
	}
	d.s.mu.Unlock()
}

func (d *MemDirectory) AddUser(user string)      { d.join(d.s.users, user) }
func (d *MemDirectory) RemoveUser(user string)   { d.leave(d.s.users, user) }
func (d *MemDirectory) AddTopic(topic string)    { d.join(d.s.topics, topic) }
func (d *MemDirectory) RemoveTopic(topic string) { d.leave(d.s.topics, topic) }

func (d *MemDirectory) join(m map[string]map[string]struct{}, name string) {
	d.s.mu.Lock()
	set := m[name]
	if set == nil {
		set = make(map[string]struct{}, 1)
		m[name] = set
	}
	set[d.self.ID] = struct{}{}
	d.s.mu.Unlock()
}

func (d *MemDirectory) leave(m map[string]map[string]struct{}, name string) {
	d.s.mu.Lock()
	if set := m[name]; set != nil {
		delete(set, d.self.ID)
		if len(set) == 0 {
			delete(m, name)
		}
	}
	d.s.mu.Unlock()
}

// ConnNode returns the node holding key, or ErrNotFound.
func (d *MemDirectory) ConnNode(_ context.Context, key string) (string, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if n, ok := d.s.conns[key]; ok {
		return n, nil
	}
	return "", ErrNotFound
}

func (d *MemDirectory) UserNodes(_ context.Context, user string) ([]string, error) {
	return d.members(d.s.users, user), nil
}

func (d *MemDirectory) TopicNodes(_ context.Context, topic string) ([]string, error) {
	return d.members(d.s.topics, topic), nil
}

func (d *MemDirectory) members(m map[string]map[string]struct{}, name string) []string {
	d.s.mu.Lock()
	set := m[name]
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	d.s.mu.Unlock()
	slices.Sort(out)
	return out
}

// Stats is all zeros: nothing here costs a round trip.
func (d *MemDirectory) Stats() DirStats { return DirStats{} }
