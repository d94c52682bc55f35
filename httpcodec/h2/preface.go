package h2

// ClientPreface is the 24 bytes every HTTP/2 client sends first (RFC 9113
// §3.4), before its SETTINGS frame.
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Detection is what the first bytes of a plaintext connection say it speaks.
type Detection int8

const (
	// NeedMore: every byte so far matches the preface; read more to decide.
	NeedMore Detection = iota
	// IsH2: the whole preface is there: h2c with prior knowledge (RFC 9113 §3.3).
	IsH2
	// NotH2: a byte differs from the preface, so the peer speaks HTTP/1.x.
	NotH2
)

// DetectPreface tells an h2c prior-knowledge client from an HTTP/1.x one by
// the first bytes the connection sent. It looks at no more than the first 24
// bytes and never needs more than the preface to decide, so the plaintext edge
// can call it on each read until it answers IsH2 or NotH2 and then hand the
// same bytes, unconsumed, to the parser it picked. An HTTP/1.x request can
// only share the prefix "PRI " with it, so a real request is told apart within
// its first 5 bytes.
func DetectPreface(b []byte) Detection {
	n := min(len(b), len(ClientPreface))
	if string(b[:n]) != ClientPreface[:n] {
		return NotH2
	}
	if n < len(ClientPreface) {
		return NeedMore
	}
	return IsH2
}
