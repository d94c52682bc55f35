package tlslayer

import (
	"crypto/subtle"
	"errors"
)

// stackGCM is AES-GCM keyed in place: its key schedule and GHASH table live in the value, so
// a caller that declares one on its stack seals and opens with no allocation. The standard
// library's AES-GCM (crypto/aes, crypto/cipher) allocates 1,280 bytes per key and keeps 768,
// and has no way to be re-keyed; an idle connection sent one heartbeat every 25 s would
// build one per heartbeat and leave it as garbage, which is what made an idle TLS
// connection cost more than its keys (BENCHMARKS.md, TLS; BenchmarkSeal/cold). The
// assembly is the standard library's own (gcm_amd64.s), driven as crypto/internal/fips140/
// aes/gcm drives it; where it is not built (other architectures, purego, no AES-NI),
// stackGCMOK is false and the record layer builds the standard library's AEAD instead.
//
// A stackGCM is ~750 bytes: only ever a local variable, never kept.
type stackGCM struct {
	nr    int // AES rounds: 10 for a 16-byte key, 14 for 32; 0 = not keyed yet
	enc   [60]uint32
	dec   [60]uint32 // written by the key expansion; GCM never decrypts a block
	table [256]byte  // GHASH powers of H, as gcmAesInit lays them out
}

var errGCMOpen = errors.New("tlslayer: message authentication failed")

// setKey keys g with a 16- or 32-byte AES key.
func (g *stackGCM) setKey(key []byte) {
	g.nr = 6 + len(key)/4
	expandKeyAsm(g.nr, &key[0], &g.enc[0], &g.dec[0])
	gcmAesInit(&g.table, g.enc[:(g.nr+1)*4])
}

// start sets counter to nonce || 1 and tagMask to its encryption (a 12-byte nonce).
func (g *stackGCM) start(nonce []byte, counter, tagMask *[16]byte) {
	copy(counter[:], nonce[:12])
	counter[15] = 1
	encryptBlockAsm(g.nr, &g.enc[0], &tagMask[0], &counter[0])
}

// seal is cipher.AEAD.Seal for a 12-byte nonce and 16-byte tag: it appends the sealed
// plaintext to dst; plaintext may be dst's spare capacity exactly (in place).
func (g *stackGCM) seal(dst, nonce, plaintext, aad []byte) []byte {
	ret, out := sliceForAppend(dst, len(plaintext)+tagLen)
	var counter, tagMask, tag [16]byte
	g.start(nonce, &counter, &tagMask)
	gcmAesData(&g.table, aad, &tag)
	if len(plaintext) > 0 {
		gcmAesEnc(&g.table, out, plaintext, &counter, &tag, g.enc[:(g.nr+1)*4])
	}
	gcmAesFinish(&g.table, &tagMask, &tag, uint64(len(plaintext)), uint64(len(aad)))
	copy(out[len(plaintext):], tag[:])
	return ret
}

// open is cipher.AEAD.Open for a 12-byte nonce and 16-byte tag; on failure what it wrote is
// cleared.
func (g *stackGCM) open(dst, nonce, ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < tagLen {
		return nil, errGCMOpen
	}
	tag := ciphertext[len(ciphertext)-tagLen:]
	ciphertext = ciphertext[:len(ciphertext)-tagLen]
	var counter, tagMask, want [16]byte
	g.start(nonce, &counter, &tagMask)
	gcmAesData(&g.table, aad, &want)
	ret, out := sliceForAppend(dst, len(ciphertext))
	if len(ciphertext) > 0 {
		gcmAesDec(&g.table, out, ciphertext, &counter, &want, g.enc[:(g.nr+1)*4])
	}
	gcmAesFinish(&g.table, &tagMask, &want, uint64(len(ciphertext)), uint64(len(aad)))
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		clear(out)
		return nil, errGCMOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, reallocating only when its capacity is short, and
// returns the whole slice and the n new bytes.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	return head, head[len(in):]
}
