package server

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/push"
)

// connKey is a conn key (push/connkey.go: its text form): the subscriber it
// names (a connection's only one, or an HTTP/2 stream) and its random bits.
type connKey struct {
	h conntable.Sub
	r [2]uint64
}

// keyTextLen is the length of a key's text before ".node".
const keyTextLen = push.ConnKeyTextLen

// appendKeyText appends k's text form, this node's id as its suffix.
func (s *Node) appendKeyText(dst []byte, k connKey) []byte {
	return push.AppendConnKey(dst, push.ConnKey{Handle: uint64(k.h), Random: k.r}, s.nodeID)
}

// parseKeyText reads a key's text and returns the id of the node that holds
// it; a bare key without ".node" names no node (nil), and the caller looks it
// up locally.
func parseKeyText(text []byte) (k connKey, node []byte, ok bool) {
	pk, node, ok := push.ParseConnKey(text)
	return connKey{conntable.Sub(pk.Handle), pk.Random}, node, ok
}

// lookupKey returns the live subscriber k names on this node. Any goroutine
// may call it.
func (s *Node) lookupKey(k connKey) (conntable.Sub, bool) {
	if k.h.Loop() >= len(s.loops) {
		return 0, false
	}
	ls := s.loops[k.h.Loop()]
	keys := &ls.keys
	if k.h.IsStream() {
		keys = &ls.streamKeys
	}
	return k.h, keys.Match(k.h.Index(), k.h, k.r)
}

// lookupConnKey is lookupKey for a key as push/connkey.go reads it: the
// lookup route.Resolver is given.
func (s *Node) lookupConnKey(k push.ConnKey) (conntable.Sub, bool) {
	return s.lookupKey(connKey{conntable.Sub(k.Handle), k.Random})
}
