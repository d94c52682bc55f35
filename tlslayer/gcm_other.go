//go:build !amd64 || purego

package tlslayer

// Without the amd64 assembly stackGCM is never used (stackGCMOK is false): the record layer
// builds the standard library's AEAD, which allocates per key.

const stackGCMOK = false

func encryptBlockAsm(nr int, xk *uint32, dst, src *byte)       { panic("tlslayer: no stackGCM here") }
func expandKeyAsm(nr int, key *byte, enc *uint32, dec *uint32) { panic("tlslayer: no stackGCM here") }
func gcmAesInit(productTable *[256]byte, ks []uint32)          { panic("tlslayer: no stackGCM here") }
func gcmAesData(productTable *[256]byte, data []byte, T *[16]byte) {
	panic("tlslayer: no stackGCM here")
}
func gcmAesEnc(productTable *[256]byte, dst, src []byte, ctr, T *[16]byte, ks []uint32) {
	panic("tlslayer: no stackGCM here")
}
func gcmAesDec(productTable *[256]byte, dst, src []byte, ctr, T *[16]byte, ks []uint32) {
	panic("tlslayer: no stackGCM here")
}
func gcmAesFinish(productTable *[256]byte, tagMask, T *[16]byte, pLen, dLen uint64) {
	panic("tlslayer: no stackGCM here")
}
