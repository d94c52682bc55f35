// Package tlslayer is TLS for one connection of an event loop, with no goroutine once the
// handshake is done.
//
// The handshake is crypto/tls's own (tls.Server), run by a short-lived helper goroutine over
// an in-memory net.Conn that the loop feeds one client record at a time (handshake.go), so
// every handshake message, extension, curve and signature check is the standard library's.
// When it ends, the traffic keys are taken from the key log crypto/tls writes for that
// handshake (tls.Config.KeyLogWriter, bound per handshake through GetConfigForClient; for a
// resumed TLS 1.2 handshake, which logs nothing, from the session ticket), the helper returns,
// and the connection keeps only the record layer's state (record.go): 264 bytes of keys,
// IVs, TLS 1.3 traffic secrets and sequence numbers (Keys, pointer-free, so its owner may
// keep it off the Go heap: Bind) and a 48-byte Conn of pointers. AES-GCM records are sealed
// and opened by stackGCM (gcm.go: the standard library's assembly, keyed on the stack of
// each call), so no AEAD object is built, kept or left as garbage: the standard library's
// AES-GCM AEAD keeps 768 bytes, more than the whole connection, and building one costs ~1 µs
// and 1,280 bytes (BenchmarkSeal, BenchmarkAEADBytes). golang.org/x/crypto's
// ChaCha20-Poly1305 AEAD (32 bytes) is built once and kept. Where stackGCM is not built, the
// AES-GCM AEADs are built on demand and dropped when the connection goes idle (Conn.Idle).
//
// The record layer is sans-IO: Open decrypts in place what the socket delivered, Seal
// appends records to the caller's buffer. It handles records split across reads and many per
// read (the caller carries at most one incomplete record, MaxRecord bytes), the record size
// limits, TLS 1.3 inner content types and padding, alerts (close_notify is io.EOF), TLS 1.3
// KeyUpdate both ways (answering update_requested, and rekeying before the AES-GCM limit),
// refuses renegotiation and post-handshake messages a client may not send, and stops a TLS
// 1.2 connection at its sequence-number limit.
//
// Only a Conn's owner (its loop) may call its methods; a Server is safe for concurrent use.
package tlslayer
