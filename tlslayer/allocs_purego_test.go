//go:build purego

package tlslayer

// chachaSealAllocs is what one ChaCha20-Poly1305 Seal allocates with
// -tags purego: x/crypto's generic seal builds a chacha20.Cipher on the heap
// for every record (chacha20poly1305_generic.go); not ours to change, and no
// default build on Linux takes that path.
const chachaSealAllocs = 1
