package server

import (
	"testing"
	"unsafe"
)

// TestConnStateStaysSmall guards the per-connection budget: every idle
// connection pays for one connState, and the memory target is 300 bytes
// per connection in all (engine slot, tables and timers included).
func TestConnStateStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(connState{}); size > 64 {
		t.Errorf("connState is %d bytes; want at most 64", size)
	}
}
