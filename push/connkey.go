package push

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
)

// A conn key names its connection and proves it was issued: the engine
// handle (loop, slot, generation) and 128 random bits from the loop's
// ChaCha8 CSPRNG, written as 32 base64url characters, then "." and the id of
// the node that holds it. Unguessable, safe in a URL, unique across the
// cluster, routable to its node without a directory lookup (SPEC §8), and
// checked on that node by reading one slot of the loop's conntable.Keys:
// no hash map, nothing per connection but the 24-byte record.
type ConnKey struct {
	Handle uint64 // an engine.Handle
	Random [2]uint64
}

const (
	keyBytes = 24
	// ConnKeyTextLen is the length of a key's text before ".node".
	ConnKeyTextLen = 32 // base64url of keyBytes
	// MaxConnKeyText is the longest text of a key, node suffix included.
	MaxConnKeyText = ConnKeyTextLen + 1 + maxNodeID
	maxNodeID      = 64
)

// AppendConnKey appends k's text form with the id of the node that holds it.
func AppendConnKey(dst []byte, k ConnKey, node string) []byte {
	var raw [keyBytes]byte
	binary.LittleEndian.PutUint64(raw[0:], k.Handle)
	binary.LittleEndian.PutUint64(raw[8:], k.Random[0])
	binary.LittleEndian.PutUint64(raw[16:], k.Random[1])
	dst = base64.RawURLEncoding.AppendEncode(dst, raw[:])
	return append(append(dst, '.'), node...)
}

// ParseConnKey reads a key written by AppendConnKey and returns the id of
// the node that holds it, a view into text; a bare key without ".node" names
// no node (nil), and the caller looks it up locally.
func ParseConnKey(text []byte) (k ConnKey, node []byte, ok bool) {
	random, node, found := bytes.Cut(text, []byte("."))
	if len(random) != ConnKeyTextLen || (found && !ValidNodeID(node)) {
		return k, nil, false
	}
	var raw [keyBytes]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], random); err != nil || n != keyBytes {
		return k, nil, false
	}
	k.Handle = binary.LittleEndian.Uint64(raw[0:])
	k.Random = [2]uint64{binary.LittleEndian.Uint64(raw[8:]), binary.LittleEndian.Uint64(raw[16:])}
	return k, node, true
}

// ValidNodeID reports whether id may name a node: 1-64 of [A-Za-z0-9_-],
// so that it fits in a conn key and a Redis key unescaped.
func ValidNodeID(id []byte) bool {
	if len(id) == 0 || len(id) > maxNodeID {
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
