package httpcodec

// QueryEach calls fn with each key=value pair of a raw query, still
// percent-encoded, in order, until fn returns false. Empty pairs ("a&&b") are
// skipped; a pair without '=' has an empty value. key and value are views into
// query. Decode them with AppendUnescape when needed.
func QueryEach(query []byte, fn func(key, value []byte) bool) {
	for len(query) > 0 {
		pair := query
		query = nil
		for i, c := range pair {
			if c == '&' {
				pair, query = pair[:i], pair[i+1:]
				break
			}
		}
		if len(pair) == 0 {
			continue
		}
		key, value := pair, pair[len(pair):]
		for i, c := range pair {
			if c == '=' {
				key, value = pair[:i], pair[i+1:]
				break
			}
		}
		if !fn(key, value) {
			return
		}
	}
}

// AppendUnescape appends s to dst with %XX decoded and '+' turned into a
// space (application/x-www-form-urlencoded, which is what query strings
// carry). A '%' not followed by two hex digits is an error with Status 400;
// dst is then returned as it was.
func AppendUnescape(dst, s []byte) ([]byte, error) {
	n := len(dst)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) || hexValue[s[i+1]] == 0xff || hexValue[s[i+2]] == 0xff {
				return dst[:n], errEscape
			}
			dst = append(dst, hexValue[s[i+1]]<<4|hexValue[s[i+2]])
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}
