package cluster

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// nameSet is a node's holdings as a test sets them.
type nameSet struct {
	mu            sync.Mutex
	users, topics map[string]bool
}

func newNameSet() *nameSet { return &nameSet{users: map[string]bool{}, topics: map[string]bool{}} }

func (n *nameSet) set(m map[string]bool, name string, held bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m[name] = held
}

func (n *nameSet) HoldsUser(u string) bool  { n.mu.Lock(); defer n.mu.Unlock(); return n.users[u] }
func (n *nameSet) HoldsTopic(t string) bool { n.mu.Lock(); defer n.mu.Unlock(); return n.topics[t] }

func TestMemDirectory(t *testing.T) {
	t.Parallel()
	s := NewMemStore()
	heldA, heldB := newNameSet(), newNameSet()
	a := NewMemDirectory(s, Node{ID: "a", Addr: "a:1"}, heldA)
	b := NewMemDirectory(s, Node{ID: "b", Addr: "b:1"}, heldB)
	if !a.Alone() {
		t.Error("Alone before any node started = false; want true")
	}
	a.Start(bg)
	if !a.Alone() || b.Alone() {
		t.Errorf("with only a started: a.Alone = %v, b.Alone = %v; want true, false", a.Alone(), b.Alone())
	}
	b.Start(bg)
	if a.Alone() || b.Alone() {
		t.Error("with a and b started, one of them says it is alone")
	}
	heldA.set(heldA.users, "u", true)
	heldB.set(heldB.users, "u", true)
	heldB.set(heldB.topics, "t", true)
	if ns, _ := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a", "b"}) {
		t.Errorf("UserNodes(u) = %v; want [a b]", ns)
	}
	if ns, _ := a.TopicNodes(bg, "t"); !slices.Equal(ns, []string{"b"}) {
		t.Errorf("TopicNodes(t) = %v; want [b]", ns)
	}
	if nodes, _ := a.Nodes(bg); len(nodes) != 2 || nodes[0] != (Node{"a", "a:1"}) {
		t.Errorf("Nodes = %v; want a and b sorted", nodes)
	}
	heldB.set(heldB.users, "u", false)
	if ns, _ := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a"}) {
		t.Errorf("after b lost u: UserNodes(u) = %v; want [a]", ns)
	}
	a.Close()
	if !b.Alone() {
		t.Error("b.Alone after a.Close = false; want true")
	}
	if _, err := b.NodeAddr(bg, "a"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("NodeAddr(a) after a.Close = %v; want ErrUnknownNode", err)
	}
	if ns, _ := b.UserNodes(bg, "u"); len(ns) != 0 {
		t.Errorf("UserNodes(u) after a.Close = %v; want []", ns)
	}
}
