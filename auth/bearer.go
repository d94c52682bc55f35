package auth

import "bytes"

// BearerToken returns the token of an "Authorization: Bearer <token>" header value: the scheme
// matched case-insensitively, spaces and tabs around the value and between scheme and token
// trimmed. ok is false for any other value, an empty token, or one with whitespace inside. The
// token is a view into authorization. It does not allocate.
func BearerToken(authorization []byte) (token []byte, ok bool) {
	const scheme = "bearer"
	v := bytes.Trim(authorization, " \t")
	if len(v) <= len(scheme) || !bytes.EqualFold(v[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	if v[len(scheme)] != ' ' && v[len(scheme)] != '\t' {
		return nil, false // "Bearerx": another scheme
	}
	token = bytes.TrimLeft(v[len(scheme):], " \t")
	if len(token) == 0 || bytes.ContainsAny(token, " \t") {
		return nil, false
	}
	return token, true
}
