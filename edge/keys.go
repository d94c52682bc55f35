package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/push"
)

// ConnKey is a conn key (push/connkey.go: its text form): the subscriber it
// names (a connection's only one, or an HTTP/2 stream) and its random bits.
type ConnKey struct {
	Sub conntable.Sub
	R   [2]uint64
}

// KeyTextLen is the length of a key's text before ".node".
const KeyTextLen = push.ConnKeyTextLen

// AppendKeyText appends k's text form, this node's id as its suffix.
func (s *Node) AppendKeyText(dst []byte, k ConnKey) []byte {
	return push.AppendConnKey(dst, push.ConnKey{Handle: uint64(k.Sub), Random: k.R}, s.ID)
}

// ParseKeyText reads a key's text and returns the id of the node that holds
// it; a bare key without ".node" names no node (nil), and the caller looks it
// up locally.
func ParseKeyText(text []byte) (k ConnKey, node []byte, ok bool) {
	pk, node, ok := push.ParseConnKey(text)
	return ConnKey{conntable.Sub(pk.Handle), pk.Random}, node, ok
}

// LookupKey returns the live subscriber k names on this node. Any goroutine
// may call it.
func (s *Node) LookupKey(k ConnKey) (conntable.Sub, bool) {
	if k.Sub.Loop() >= len(s.Loops) {
		return 0, false
	}
	ls := s.Loops[k.Sub.Loop()]
	keys := &ls.Keys
	if k.Sub.IsStream() {
		keys = &ls.streamKeys
	}
	return k.Sub, keys.Match(k.Sub.Index(), k.Sub, k.R)
}

// LookupConnKey is lookupKey for a key as push/connkey.go reads it: the
// lookup route.Resolver is given.
func (s *Node) LookupConnKey(k push.ConnKey) (conntable.Sub, bool) {
	return s.LookupKey(ConnKey{conntable.Sub(k.Handle), k.Random})
}
