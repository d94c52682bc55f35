package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pushwire/pushwire/perf"
)

// TestSmallCluster runs the whole command at a small scale: six real pushwire processes,
// each in its own network namespace, one redis-server, 5 × 300 SSE subscribers. Every
// unicast and fan-out message must arrive; after the kill -9 of a node every one of its
// streams must open again on another node, and every QoS 1 message published to its
// users meanwhile and answered 200/202 must reach them. The figures it prints are not
// checked (a shared machine): BENCHMARKS.md has the full-scale ones.
func TestSmallCluster(t *testing.T) {
	bin, err := perf.BuildPushwire("../..")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	o := options{nodes: 5, perNode: 300, pubConns: 8, publishes: 3, storm: true, steadyRate: 200,
		qosWindow: 2 * time.Second, jitter: 0.5, retry: time.Second, nodeTTL: 15 * time.Second,
		drain: 10 * time.Second, bin: bin, inproc: true}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := run(ctx, o)
	if r != nil {
		t.Log(r.markdown())
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	want := o.nodes * o.perNode
	if r.Connected != want {
		t.Errorf("subscribed %d (%d failed); want %d", r.Connected, r.ConnectFailed, want)
	}
	if u := r.Unicast; u.OK != int64(want) || u.Received != int64(want) {
		t.Errorf("unicast: %d accepted, %d received (not 200: %v); want %d of each", u.OK, u.Received, u.Status, want)
	}
	if f := r.Fanout; f.OK != o.publishes || f.Deliveries != int64(o.publishes*want) {
		t.Errorf("fan-out: %d publishes accepted, %d deliveries; want %d and %d", f.OK, f.Deliveries, o.publishes, o.publishes*want)
	}
	s := r.Storm
	if s.Streams != o.perNode || s.Reopened != o.perNode || s.StillWaiting != 0 {
		t.Errorf("storm: %d of the killed node's %d streams open again, %d waiting; want all %d", s.Reopened, s.Streams, s.StillWaiting, o.perNode)
	}
	if s.QoSAnswered != o.perNode || s.QoSLost != 0 {
		t.Errorf("storm: QoS 1 answered 200/202 %d of %d (%v), lost %d; want all answered, none lost", s.QoSAnswered, o.perNode, s.QoSStatus, s.QoSLost)
	}
	if r.CommandsPerConn <= 0 || r.RedisBytesPerConn <= 0 {
		t.Errorf("Redis cost per stream: %.3f commands, %.0f B; want both measured", r.CommandsPerConn, r.RedisBytesPerConn)
	}
}
