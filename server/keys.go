package server

import (
	"encoding/base64"

	"github.com/pushwire/pushwire/conntable"
)

// A conn key is 128 random bits from the loop's ChaCha8 CSPRNG, written as
// 22 base64url characters: unguessable and safe in a URL path or query.
const keyTextLen = 22

func appendKeyText(dst []byte, k conntable.Key) []byte {
	return base64.RawURLEncoding.AppendEncode(dst, k[:])
}

// parseKeyText reads a key written by appendKeyText.
func parseKeyText(text []byte) (conntable.Key, bool) {
	var k conntable.Key
	if len(text) != keyTextLen {
		return k, false
	}
	n, err := base64.RawURLEncoding.Decode(k[:], text)
	return k, err == nil && n == len(k)
}
