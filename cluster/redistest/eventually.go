package redistest

import (
	"testing"
	"time"
)

// Eventually polls f every 20ms until it returns "" or timeout passes, then
// fails t with f's last message: for what Redis makes true a little later (a
// re-sync, a failover, an invalidation).
func Eventually(t testing.TB, timeout time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
