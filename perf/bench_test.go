package perf

import "testing"

type nopSink struct{ n int }

func (s *nopSink) Frame(message bool, data []byte) {
	if _, _, ok := ParseStamp(data); ok {
		s.n++
	}
}

// BenchmarkStreamFeedNDJSON is the receive-side parse cost of one pushwire message frame as
// it arrives in its own read (the unicast case): chunk header, line, stamp.
func BenchmarkStreamFeedNDJSON(b *testing.B) {
	s := Stream{Format: FormatNDJSON}
	var sink nopSink
	if err := s.Feed([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &sink); err != nil {
		b.Fatal(err)
	}
	frame := []byte(chunk(`{"protocol":2,"time":1700000000000,"id":"01HZX","to":"conn:abcdefghijklmnop","data":"` +
		string(AppendStamp(nil, 12345, MonoNow(), 0)) + `"}` + "\n"))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Feed(frame, &sink); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamFeedSSE is the same for an SSE event (Nchan's EventSource).
func BenchmarkStreamFeedSSE(b *testing.B) {
	s := Stream{Format: FormatSSE}
	var sink nopSink
	if err := s.Feed([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &sink); err != nil {
		b.Fatal(err)
	}
	frame := []byte(chunk("id: 1795295328:0\ndata: " + string(AppendStamp(nil, 12345, MonoNow(), 0)) + "\n\n"))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Feed(frame, &sink); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLatencyRecord(b *testing.B) {
	l := NewLatency()
	for i := 0; b.Loop(); i++ {
		l.RecordNanos(int64(i%100000) * 1000)
	}
}
