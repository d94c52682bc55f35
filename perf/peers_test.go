//go:build peers

package perf

import (
	"os"
	"testing"
)

// Tests that need a peer built on first use: not part of ./test.sh or CI, because a fresh
// machine spends ~3 minutes building Centrifugo from the Go module proxy. Run them with
//
//	go test -tags peers -count=1 -run TestCentrifugoEndToEnd ./perf/
//
// (perf/doc.go and BENCHMARKS.md say so too). They fail, not skip, when the peer cannot
// be built or started.

// TestCentrifugoEndToEnd drives Centrifugo (../shared/peers/centrifugo/start.sh, which
// builds it when missing) the way TestNchanEndToEnd drives Nchan: uni_sse subscribers,
// HTTP API publishes, every unicast and broadcast message delivered.
func TestCentrifugoEndToEnd(t *testing.T) {
	s, err := StartCentrifugo("../../shared/peers/centrifugo/start.sh", ServerConfig{Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	runShort(t, s.Target)
}
