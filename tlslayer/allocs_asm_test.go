//go:build !purego

package tlslayer

// chachaSealAllocs is what one ChaCha20-Poly1305 Seal allocates: nothing where
// x/crypto's assembly runs (amd64, arm64, …).
const chachaSealAllocs = 0
