package edge

import (
	"testing"
	"unsafe"
)

// TestConnStateStaysSmall guards the per-connection budget: every idle
// connection pays for one connState, and the memory target is 300 bytes
// per connection in all (engine slot, tables and timers included).
func TestConnStateStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(ConnState{}); size > 64 {
		t.Errorf("connState is %d bytes; want at most 64", size)
	}
}

// TestStreamSubStaysSmall guards what each further HTTP/2 stream costs the
// server beyond the codec: its record, 64 bytes without pointers.
func TestStreamSubStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(StreamSub{}); size > 64 {
		t.Errorf("streamSub is %d bytes; want at most 64", size)
	}
}
