package server

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"

	"github.com/pushwire/pushwire/engine"
)

// A conn key names its connection and proves it was issued: the engine
// handle (loop, slot, generation) and 128 random bits from the loop's
// ChaCha8 CSPRNG, written as 32 base64url characters, then "." and the id of
// the node that holds it. Unguessable, safe in a URL, unique across the
// cluster, routable to its node without a directory lookup (SPEC §8), and
// checked on that node by reading one slot of the loop's conntable.Keys:
// no hash map, nothing per connection but the 24-byte record.
type connKey struct {
	h engine.Handle
	r [2]uint64
}

const (
	keyBytes   = 24
	keyTextLen = 32 // base64url of keyBytes
)

// appendKeyText appends k's text form, node suffix included.
func (s *Server) appendKeyText(dst []byte, k connKey) []byte {
	var raw [keyBytes]byte
	binary.LittleEndian.PutUint64(raw[0:], uint64(k.h))
	binary.LittleEndian.PutUint64(raw[8:], k.r[0])
	binary.LittleEndian.PutUint64(raw[16:], k.r[1])
	dst = base64.RawURLEncoding.AppendEncode(dst, raw[:])
	return append(append(dst, '.'), s.nodeID...)
}

// parseKeyText reads a key written by appendKeyText and returns the id of
// the node that holds it; a bare key without ".node" names no node (nil),
// and the caller looks it up locally.
func parseKeyText(text []byte) (k connKey, node []byte, ok bool) {
	random, node, found := bytes.Cut(text, []byte("."))
	if len(random) != keyTextLen || (found && !validNodeID(node)) {
		return k, nil, false
	}
	var raw [keyBytes]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], random); err != nil || n != keyBytes {
		return k, nil, false
	}
	k.h = engine.Handle(binary.LittleEndian.Uint64(raw[0:]))
	k.r = [2]uint64{binary.LittleEndian.Uint64(raw[8:]), binary.LittleEndian.Uint64(raw[16:])}
	return k, node, true
}

// lookupKey returns the handle of the live connection k names on this node.
// Any goroutine may call it.
func (s *Server) lookupKey(k connKey) (engine.Handle, bool) {
	if k.h.Loop() >= len(s.loops) {
		return 0, false
	}
	return k.h, s.loops[k.h.Loop()].keys.Match(k.h.Slot(), uint64(k.h), k.r)
}

// validNodeID reports whether id may name a node: 1-64 of [A-Za-z0-9_-],
// so that it fits in a conn key and a Redis key unescaped.
func validNodeID(id []byte) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, b := range id {
		ok := b == '-' || b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
		if !ok {
			return false
		}
	}
	return true
}
