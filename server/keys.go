package server

import (
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/push"
)

// connKey is a conn key (push/connkey.go: its text form) with its handle
// typed for the engine.
type connKey struct {
	h engine.Handle
	r [2]uint64
}

// keyTextLen is the length of a key's text before ".node".
const keyTextLen = push.ConnKeyTextLen

// appendKeyText appends k's text form, this node's id as its suffix.
func (s *Server) appendKeyText(dst []byte, k connKey) []byte {
	return push.AppendConnKey(dst, push.ConnKey{Handle: uint64(k.h), Random: k.r}, s.nodeID)
}

// parseKeyText reads a key's text and returns the id of the node that holds
// it; a bare key without ".node" names no node (nil), and the caller looks it
// up locally.
func parseKeyText(text []byte) (k connKey, node []byte, ok bool) {
	pk, node, ok := push.ParseConnKey(text)
	return connKey{engine.Handle(pk.Handle), pk.Random}, node, ok
}

// lookupKey returns the handle of the live connection k names on this node.
// Any goroutine may call it.
func (s *Server) lookupKey(k connKey) (engine.Handle, bool) {
	if k.h.Loop() >= len(s.loops) {
		return 0, false
	}
	return k.h, s.loops[k.h.Loop()].keys.Match(k.h.Slot(), uint64(k.h), k.r)
}
