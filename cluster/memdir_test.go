package cluster

import (
	"errors"
	"slices"
	"testing"
)

func TestMemDirectory(t *testing.T) {
	t.Parallel()
	s := NewMemStore()
	a := NewMemDirectory(s, Node{ID: "a", Addr: "a:1"})
	b := NewMemDirectory(s, Node{ID: "b", Addr: "b:1"})
	a.Start(bg)
	b.Start(bg)
	a.AddConn("k")
	a.AddUser("u")
	b.AddUser("u")
	b.AddTopic("t")
	if n, err := b.ConnNode(bg, "k"); n != "a" || err != nil {
		t.Errorf("ConnNode(k) = %q, %v; want a, nil", n, err)
	}
	if ns, _ := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a", "b"}) {
		t.Errorf("UserNodes(u) = %v; want [a b]", ns)
	}
	if nodes, _ := a.Nodes(bg); len(nodes) != 2 || nodes[0] != (Node{"a", "a:1"}) {
		t.Errorf("Nodes = %v; want a and b sorted", nodes)
	}
	b.RemoveUser("u")
	if ns, _ := a.UserNodes(bg, "u"); !slices.Equal(ns, []string{"a"}) {
		t.Errorf("after RemoveUser: UserNodes(u) = %v; want [a]", ns)
	}
	a.Close()
	if _, err := b.ConnNode(bg, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConnNode(k) after a.Close = %v; want ErrNotFound", err)
	}
	if _, err := b.NodeAddr(bg, "a"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("NodeAddr(a) after a.Close = %v; want ErrUnknownNode", err)
	}
	if ns, _ := b.UserNodes(bg, "u"); len(ns) != 0 {
		t.Errorf("UserNodes(u) after a.Close = %v; want []", ns)
	}
}
