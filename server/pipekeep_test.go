package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/engine"
)

// TestSpareQueuesKeepNoBigBuffers: a connection pipelines big batch
// publishes to a user on another node (each answer about 50 KiB, the jobs
// routed together in runs); once all are answered and the queue is a spare
// again, neither its slots nor its lane keep those buffers: a slot keeps at
// most maxKeptReply, a lane at most maxKeptItems items. Before, every slot
// kept the last routed answer it held and the lane its largest combined run.
func TestSpareQueuesKeepNoBigBuffers(t *testing.T) {
	store := cluster.NewMemStore()
	a, b := memClusterNode(t, store, "a"), memClusterNode(t, store, "b")
	openStreams(t, b, 1, func(int) string { return "user=big" })
	if got := publishTo(t, a, "/pub/user/big"); got.Status != 200 || got.Nodes != 1 {
		t.Fatalf("warm-up publish = %+v", got)
	}
	const batches, lines = 16, 500
	var body strings.Builder
	for range lines {
		body.WriteString(`{"to":"user:big","data":1}` + "\n")
	}
	var w strings.Builder
	for range batches {
		fmt.Fprintf(&w, "POST /pub HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\nContent-Length: %d\r\n\r\n%s", body.Len(), body.String())
	}
	c, err := net.Dial("tcp", a.APIAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write([]byte(w.String()))
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	r := bufio.NewReader(c)
	biggest := 0
	for i := range batches {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d: %d; want 200", i+1, resp.StatusCode)
		}
		biggest = max(biggest, int(n))
	}
	spares := 0
	for i := range a.loops {
		onLoop(t, a, i, func(_ *engine.Loop, ls *loopState) {
			n, reply, items, maxReply, maxItems := ls.ProbeSpares()
			if biggest <= maxReply {
				t.Fatalf("the biggest answer is %d bytes: not above maxKeptReply (%d), the test proves nothing", biggest, maxReply)
			}
			spares += n
			if reply > maxReply {
				t.Errorf("loop %d: a spare queue's slot keeps a %d-byte answer buffer; want at most %d", i, reply, maxReply)
			}
			if items > maxItems {
				t.Errorf("loop %d: a spare queue's lane keeps %d items; want at most %d", i, items, maxItems)
			}
		})
	}
	if spares == 0 {
		t.Fatal("no spare answer queue after the pipelined batches: the test proves nothing")
	}
}
