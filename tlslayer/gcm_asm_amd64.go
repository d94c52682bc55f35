//go:build !purego

package tlslayer

import "golang.org/x/sys/cpu"

// The standard library's AES-NI and PCLMULQDQ routines (gcm_amd64.s), with the signatures
// crypto/internal/fips140/aes and .../aes/gcm declare for them.

//go:noescape
func encryptBlockAsm(nr int, xk *uint32, dst, src *byte)

//go:noescape
func expandKeyAsm(nr int, key *byte, enc *uint32, dec *uint32)

//go:noescape
func gcmAesInit(productTable *[256]byte, ks []uint32)

//go:noescape
func gcmAesData(productTable *[256]byte, data []byte, T *[16]byte)

//go:noescape
func gcmAesEnc(productTable *[256]byte, dst, src []byte, ctr, T *[16]byte, ks []uint32)

//go:noescape
func gcmAesDec(productTable *[256]byte, dst, src []byte, ctr, T *[16]byte, ks []uint32)

//go:noescape
func gcmAesFinish(productTable *[256]byte, tagMask, T *[16]byte, pLen, dLen uint64)

// stackGCMOK reports whether stackGCM runs here: the CPU features the assembly requires
// (those crypto/tls checks before preferring AES-GCM).
var stackGCMOK = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3
