package tlslayer

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"hash"
)

// Key schedule: what turns the secrets crypto/tls logs into the record layer's keys.
// TLS 1.3: key and iv by HKDF-Expand-Label from a traffic secret (RFC 8446 §7.1, §7.3), and
// the next secret of a KeyUpdate (§7.2). TLS 1.2: the key block by the PRF from the master
// secret (RFC 5246 §5, §6.3).

// suite describes a cipher suite's record protection.
type suite struct {
	id      uint16
	keyLen  int
	sha384  bool // the suite's hash is SHA-384 (else SHA-256)
	chacha  bool // ChaCha20-Poly1305 (else AES-GCM)
	version uint16
}

// suites are the suites the record layer protects: the TLS 1.3 ones and the ECDHE AEAD ones
// of TLS 1.2 (Config offers no other).
var suites = [...]suite{
	{id: tls.TLS_AES_128_GCM_SHA256, keyLen: 16, version: tls.VersionTLS13},
	{id: tls.TLS_AES_256_GCM_SHA384, keyLen: 32, sha384: true, version: tls.VersionTLS13},
	{id: tls.TLS_CHACHA20_POLY1305_SHA256, keyLen: 32, chacha: true, version: tls.VersionTLS13},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, keyLen: 16, version: tls.VersionTLS12},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, keyLen: 16, version: tls.VersionTLS12},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, keyLen: 32, sha384: true, version: tls.VersionTLS12},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, keyLen: 32, sha384: true, version: tls.VersionTLS12},
	{id: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, keyLen: 32, chacha: true, version: tls.VersionTLS12},
	{id: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, keyLen: 32, chacha: true, version: tls.VersionTLS12},
}

// suiteIndex returns the index of suite id in suites, or -1.
func suiteIndex(id uint16) int {
	for i := range suites {
		if suites[i].id == id {
			return i
		}
	}
	return -1
}

func (s *suite) hash() func() hash.Hash {
	if s.sha384 {
		return sha512.New384
	}
	return sha256.New
}

func (s *suite) hashLen() int {
	if s.sha384 {
		return 48
	}
	return 32
}

// ivLen is the per-direction IV the key schedule yields: 12 bytes, except the 4-byte implicit
// salt of TLS 1.2 AES-GCM (RFC 5288 §3).
func (s *suite) ivLen() int {
	if s.version == tls.VersionTLS12 && !s.chacha {
		return 4
	}
	return 12
}

// expandLabel is HKDF-Expand-Label(secret, label, "", n) (RFC 8446 §7.1).
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	info := make([]byte, 0, 4+6+len(label))
	info = append(info, byte(n>>8), byte(n), byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0) // empty context
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic("tlslayer: HKDF-Expand-Label: " + err.Error()) // only for n > 255·hashLen
	}
	return out
}

// prf12 is the TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed), n bytes.
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	out := make([]byte, 0, n+64)
	mac.Write(ls)
	a := mac.Sum(nil) // A(1)
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(ls)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// setTrafficSecret13 installs a TLS 1.3 traffic secret in d: key and iv derived, sequence
// number 0 (the caller drops the direction's AEAD).
func (d *direction) setTrafficSecret13(s *suite, secret []byte) {
	h := s.hash()
	copy(d.secret[:], secret)
	copy(d.key[:], expandLabel(h, secret, "key", s.keyLen))
	copy(d.iv[:], expandLabel(h, secret, "iv", 12))
	d.seq = 0
}

// nextSecret13 moves d to its next traffic secret (KeyUpdate, RFC 8446 §7.2).
func (d *direction) nextSecret13(s *suite) {
	n := s.hashLen()
	d.setTrafficSecret13(s, expandLabel(s.hash(), d.secret[:n], "traffic upd", n))
}

// keys12 derives the TLS 1.2 client and server write keys and IVs (RFC 5246 §6.3; AEAD
// suites have no MAC keys).
func keys12(s *suite, master, clientRandom, serverRandom []byte, client, server *direction) {
	seed := append(append(make([]byte, 0, 64), serverRandom...), clientRandom...)
	iv := s.ivLen()
	kb := prf12(s.hash(), master, "key expansion", seed, 2*s.keyLen+2*iv)
	copy(client.key[:], kb[:s.keyLen])
	copy(server.key[:], kb[s.keyLen:2*s.keyLen])
	copy(client.iv[:], kb[2*s.keyLen:2*s.keyLen+iv])
	copy(server.iv[:], kb[2*s.keyLen+iv:])
	client.seq, server.seq = 0, 0
}
