package httpcodec

import (
	"net/netip"
	"unsafe"
)

// Request flags.
const (
	rfKeepAlive uint8 = 1 << iota
	rfExpectContinue
)

// Request is a parsed request. It holds offsets, not copies: every accessor
// returns a view into the buf last given to Parse, valid until that buf is
// modified or the Parser is Reset or parses again. Callers that keep a value
// longer copy it.
type Request struct {
	buf       []byte
	ends      [maxFieldSlots]uint16 // offset of the CR ending field line i
	bodyStart uint32
	bodyLen   uint32
	methodEnd uint16
	targetEnd uint16
	lineEnd   uint16 // offset of the CR ending the request line
	nFields   uint8
	lineStart uint8 // offset of the method: 2 after a skipped empty line, else 0
	host      uint8 // index+1 of the Host field; 0 when absent
	minor     uint8
	flags     uint8
}

// Method returns the method, e.g. "GET".
func (r *Request) Method() []byte { return r.buf[r.lineStart:r.methodEnd] }

// Target returns the raw request-target as sent.
func (r *Request) Target() []byte { return r.buf[r.methodEnd+1 : r.targetEnd] }

// Path returns the target's path: origin-form up to '?', the path of an
// absolute-form target ("/" when it has none; that "/" is read-only), the
// whole target for "*" and CONNECT's authority-form.
func (r *Request) Path() []byte {
	t := r.Target()
	if len(t) > 0 && t[0] != '/' {
		i := schemeEnd(t)
		if i < 0 {
			return t
		}
		t = t[i+len("://"):]
		j := 0
		for j < len(t) && t[j] != '/' && t[j] != '?' {
			j++
		}
		if j == len(t) || t[j] == '?' {
			return rootPath[:]
		}
		t = t[j:]
	}
	for i, c := range t {
		if c == '?' {
			return t[:i]
		}
	}
	return t
}

// rootPath backs Path for an absolute-form target with an empty path.
var rootPath = [1]byte{'/'}

// Query returns the raw query after the first '?', nil when there is none.
func (r *Request) Query() []byte {
	t := r.Target()
	for i, c := range t {
		if c == '?' {
			return t[i+1:]
		}
	}
	return nil
}

// Minor returns the minor version: 0 or 1 (the major is always 1).
func (r *Request) Minor() int { return int(r.minor) }

// KeepAlive reports whether the connection stays open after this request:
// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
func (r *Request) KeepAlive() bool { return r.flags&rfKeepAlive != 0 }

// ExpectContinue reports "Expect: 100-continue".
func (r *Request) ExpectContinue() bool { return r.flags&rfExpectContinue != 0 }

// NumHeaders returns the number of header fields.
func (r *Request) NumHeaders() int { return int(r.nFields) }

// HeaderAt returns field i's name as sent and its value without surrounding
// whitespace.
func (r *Request) HeaderAt(i int) (name, value []byte) {
	line := r.fieldLine(i)
	for j, c := range line {
		if c == ':' {
			return line[:j], trimOWS(line[j+1:])
		}
	}
	return line, nil
}

// Header returns the value of the first field named name (ASCII case
// ignored), nil when there is none.
func (r *Request) Header(name string) []byte {
	for i := 0; i < int(r.nFields); i++ {
		line := r.fieldLine(i)
		if len(line) > len(name) && line[len(name)] == ':' && equalFold(line[:len(name)], name) {
			return trimOWS(line[len(name)+1:])
		}
	}
	return nil
}

// Host returns the Host field's value, nil when there is none.
func (r *Request) Host() []byte {
	if r.host == 0 {
		return nil
	}
	_, v := r.HeaderAt(int(r.host) - 1)
	return v
}

// Body returns the body: the Content-Length bytes, or a chunked body
// de-chunked in place. It is empty when the request has none.
func (r *Request) Body() []byte {
	return r.buf[r.bodyStart : r.bodyStart+r.bodyLen : r.bodyStart+r.bodyLen]
}

// fieldLine returns field line i without its CRLF.
func (r *Request) fieldLine(i int) []byte {
	start := int(r.lineEnd) + 2
	if i > 0 {
		start = int(r.ends[i-1]) + 2
	}
	return r.buf[start:r.ends[i]]
}

// validTarget checks the target's form (RFC 9112 §3.2): origin-form,
// absolute-form, "*" for OPTIONS, authority-form for CONNECT only.
func (r *Request) validTarget() bool {
	t := r.Target()
	m := r.Method()
	switch {
	case t[0] == '/':
		return true
	case string(m) == "CONNECT":
		return validAuthority(t)
	case len(t) == 1 && t[0] == '*':
		return string(m) == "OPTIONS"
	}
	// Absolute-form names the resource by its URI: a scheme other than
	// http or https is not ours to answer, whatever its path says.
	i := schemeEnd(t)
	if i < 0 || !equalFold(t[:i], "http") && !equalFold(t[:i], "https") {
		return false
	}
	a := t[i+len("://"):]
	for j, c := range a {
		if c == '/' || c == '?' {
			a = a[:j]
			break
		}
	}
	return validAuthority(a)
}

// schemeEnd returns the index of "://" after a well-formed scheme, or -1.
func schemeEnd(t []byte) int {
	for i, c := range t {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'):
		case c == ':' && i > 0:
			if len(t) >= i+3 && t[i+1] == '/' && t[i+2] == '/' {
				return i
			}
			return -1
		default:
			return -1
		}
	}
	return -1
}

// validAuthority accepts host[:port] with host a reg-name, IPv4 address or
// bracketed IPv6 literal, and port all digits. Userinfo and percent-escapes
// are refused: no client of ours sends them and they hide the real host.
func validAuthority(a []byte) bool {
	if len(a) == 0 {
		return false
	}
	host, port := a, []byte(nil)
	if a[0] == '[' {
		i := 1
		for i < len(a) && a[i] != ']' {
			c := a[i]
			if hexValue[c] == 0xff && c != ':' && c != '.' {
				return false
			}
			i++
		}
		if i == len(a) || !validIPv6(a[1:i]) {
			return false
		}
		host, port = nil, a[i+1:]
		if len(port) > 0 {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
		}
	} else {
		for i, c := range a {
			if c == ':' {
				host, port = a[:i], a[i+1:]
				break
			}
		}
	}
	if a[0] != '[' && len(host) == 0 {
		return false
	}
	for _, c := range host {
		if byteClass[c]&classHost == 0 || c == '%' || c == ':' || c == '[' || c == ']' {
			return false
		}
	}
	for _, c := range port {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validIPv6 reports whether b (hex digits, ':' and '.' only, so no zone) is
// an IPv6 address; RFC 3986 brackets nothing else. The string aliases b only
// for the duration of the call.
func validIPv6(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	return err == nil && addr.Is6()
}
