package server

import "testing"

// BenchmarkPushMultipartFanout is BenchmarkPushTopicFanout on multipart
// streams, with an ordinary body and with one that holds the node's
// delimiter (encoded quoted-printable, once per message like any frame):
// both must stay at 0 allocations per delivered message. The subscribers
// count `"protocol":2`, which here is in the published body.
func BenchmarkPushMultipartFanout(b *testing.B) {
	const query = "topic=news&format=multipart"
	b.Run("plain", func(b *testing.B) {
		benchTopicFanout(b, query, func(*Server) string {
			return `{"protocol":2,"text":"a 64-byte push payload for the benchmark"}`
		})
	})
	b.Run("delimiter", func(b *testing.B) {
		benchTopicFanout(b, query, func(s *Server) string {
			return `{"protocol":2,"text":"\r\n--` + string(s.Boundary) + `\r\nPush-Id: 666\r\n\r\nforged"}`
		})
	})
}
