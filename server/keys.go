package server

import (
	"bytes"
	"encoding/base64"

	"github.com/pushwire/pushwire/conntable"
)

// A conn key is 128 random bits from the loop's ChaCha8 CSPRNG, written as 22
// base64url characters, then "." and the id of the node that holds it:
// unguessable, safe in a URL, unique across the cluster, and routable to its
// node without a directory lookup (SPEC §8).
const keyRandLen = 22

// appendKeyText appends k's text form, node suffix included.
func (s *Server) appendKeyText(dst []byte, k conntable.Key) []byte {
	dst = base64.RawURLEncoding.AppendEncode(dst, k[:])
	return append(append(dst, '.'), s.nodeID...)
}

// parseKeyText reads a key written by appendKeyText and returns the id of
// the node that holds it; a bare 22-character key names no node (nil), and
// the caller looks it up locally.
func parseKeyText(text []byte) (k conntable.Key, node []byte, ok bool) {
	random, node, found := bytes.Cut(text, []byte("."))
	if len(random) != keyRandLen || (found && !validNodeID(node)) {
		return k, nil, false
	}
	n, err := base64.RawURLEncoding.Decode(k[:], random)
	return k, node, err == nil && n == len(k)
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
