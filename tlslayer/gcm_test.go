package tlslayer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"math/rand/v2"
	"testing"
)

// stackGCM against the standard library's AES-GCM: the same sealed bytes for every key size,
// length (0 to past the assembly's 8-block and 128-byte strides) and AAD length the record
// layer uses, in place and not; open gives back the plaintext, and refuses any flipped bit.

func stdGCM(t testing.TB, key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func checkStackGCM(t testing.TB, key, nonce, p, aad []byte) {
	want := stdGCM(t, key).Seal(nil, nonce, p, aad)
	var g stackGCM
	g.setKey(key)
	if got := g.seal(nil, nonce, p, aad); !bytes.Equal(got, want) {
		t.Fatalf("seal(key %d, p %d, aad %d) differs from crypto/cipher", len(key), len(p), len(aad))
	}
	buf := append(make([]byte, 0, len(p)+tagLen), p...) // in place, as sealRecord does
	if got := g.seal(buf[:0], nonce, buf, aad); !bytes.Equal(got, want) {
		t.Fatalf("in-place seal(key %d, p %d) differs from crypto/cipher", len(key), len(p))
	}
	ct := bytes.Clone(want)
	got, err := g.open(ct[:0], nonce, ct, aad)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("open(key %d, p %d) = %v; want the plaintext", len(key), len(p), err)
	}
	if len(want) > 0 {
		bad := bytes.Clone(want)
		bad[len(p)/2] ^= 0x80
		if _, err := g.open(nil, nonce, bad, aad); err == nil {
			t.Fatalf("open(key %d, p %d) took a flipped bit", len(key), len(p))
		}
	}
}

func TestStackGCMMatchesStdlib(t *testing.T) {
	if !stackGCMOK {
		t.Skip("stackGCM is not built on this architecture (the standard library's AEAD is used)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, kl := range []int{16, 32} {
		for n := 0; n <= 600; n++ {
			key, nonce := make([]byte, kl), make([]byte, 12)
			fill(r, key)
			fill(r, nonce)
			p := make([]byte, n)
			fill(r, p)
			aad := make([]byte, []int{5, 13, 0, 1, 17}[n%5])
			fill(r, aad)
			checkStackGCM(t, key, nonce, p, aad)
		}
		for _, n := range []int{1 << 12, maxPlaintext, maxPlaintext + 1} {
			key, nonce, p := make([]byte, kl), make([]byte, 12), make([]byte, n)
			fill(r, key)
			fill(r, p)
			checkStackGCM(t, key, nonce, p, make([]byte, 5))
		}
	}
	var g stackGCM
	g.setKey(make([]byte, 16))
	if _, err := g.open(nil, make([]byte, 12), make([]byte, tagLen-1), nil); err == nil {
		t.Fatal("open of a ciphertext shorter than the tag succeeded")
	}
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// FuzzStackGCM: for any key, nonce, plaintext and AAD, stackGCM seals as crypto/cipher does
// and opens what it sealed.
func FuzzStackGCM(f *testing.F) {
	if !stackGCMOK {
		f.Skip("stackGCM is not built on this architecture")
	}
	f.Add(make([]byte, 16), make([]byte, 12), []byte("data: hello\n\n"), []byte{23, 3, 3, 0, 30})
	f.Add(make([]byte, 32), make([]byte, 12), make([]byte, 300), make([]byte, 13))
	f.Fuzz(func(t *testing.T, key, nonce, p, aad []byte) {
		if len(key) != 16 && len(key) != 32 {
			key = append(key, make([]byte, 16)...)[:16]
		}
		nonce = append(nonce, make([]byte, 12)...)[:12]
		checkStackGCM(t, key, nonce, p, aad)
	})
}
