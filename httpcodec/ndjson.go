package httpcodec

// AppendNDJSON appends one NDJSON record: the JSON object and "\n". The
// object must be compact (no raw newline), which holds for any JSON built by
// the encoders in this package.
func AppendNDJSON(dst, jsonObject []byte) []byte {
	dst = append(dst, jsonObject...)
	return append(dst, '\n')
}
