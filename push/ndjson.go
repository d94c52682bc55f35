package push

// AppendNDJSON appends one NDJSON record: the JSON object and "\n". The
// object must be compact (no raw newline), which holds for any JSON built by
// the packet encoders of this package.
func AppendNDJSON(dst, jsonObject []byte) []byte {
	dst = append(dst, jsonObject...)
	return append(dst, '\n')
}
