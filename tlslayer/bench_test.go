package tlslayer

import (
	"runtime"
	"testing"
	"unsafe"
)

// The measurements behind the memory choice (README, design). BenchmarkSeal/stack is what a
// connection pays per record (Seal: a stackGCM keyed on the stack for AES-GCM where it runs,
// a kept 32-byte AEAD for ChaCha20-Poly1305); /kept seals with a standard-library AEAD
// built once and kept (768 bytes per connection for AES-GCM); /built with one built for the
// record (what keeping none costs without stackGCM). BenchmarkAEADBytes is what keeping one
// costs.

func BenchmarkSeal(b *testing.B) {
	msg := pattern(200, 0) // a typical pushed frame
	for _, si := range []int{0, 2, 3, 7} {
		srv, _ := fixedConn(si)
		name := suites[si].name()
		out := make([]byte, 0, 4096)
		b.Run(name+"/stack", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				out, _ = srv.Seal(out[:0], msg)
			}
		})
		b.Run(name+"/kept", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				out = srv.sealRecord(out[:0], recordAppData, msg, nil)
			}
		})
		b.Run(name+"/built", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				srv.aead[dirOut] = nil
				out = srv.sealRecord(out[:0], recordAppData, msg, nil)
			}
		})
	}
}

// BenchmarkAEADBytes reports the heap an AEAD keeps, per suite family, and the size of the
// per-connection state without it: the Conn (pointers) and its Keys (pointer-free).
func BenchmarkAEADBytes(b *testing.B) {
	for _, si := range []int{0, 2} {
		b.Run(suites[si].name(), func(b *testing.B) {
			const n = 2000
			conns := make([]*Conn, n)
			for i := range conns {
				conns[i], _ = fixedConn(si)
			}
			var before, after runtime.MemStats
			for b.Loop() {
				for _, c := range conns {
					c.aead[dirOut] = nil
				}
				runtime.GC()
				runtime.ReadMemStats(&before)
				for _, c := range conns {
					c.aeadFor(dirOut)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/aead")
			b.ReportMetric(float64(unsafe.Sizeof(Conn{})), "B/conn")
			b.ReportMetric(float64(unsafe.Sizeof(Keys{})), "B/keys")
			runtime.KeepAlive(conns)
		})
	}
}

func (s *suite) name() string {
	switch {
	case s.chacha && s.version == 0x0304:
		return "TLS13-CHACHA20"
	case s.chacha:
		return "TLS12-CHACHA20"
	case s.version == 0x0304:
		return "TLS13-AESGCM"
	}
	return "TLS12-AESGCM"
}
