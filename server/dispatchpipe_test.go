package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/publish"
)

// TestDispatchQueuesBehindAnswersWhenDrainBegins: an api connection has a
// routed publish in flight (a slot of its answer queue not answered yet);
// the next routed publish is dispatched just after a drain began (serve had
// read it as keep-alive). Its answer must wait behind the one in flight.
// dispatch read the drain flag again and sent it down the unpiped path,
// whose answer was written at once, ahead of the earlier one. The window
// between serve and dispatch is a few instructions wide, so the test builds
// that state on the loop: no black-box test reaches it.
func TestDispatchQueuesBehindAnswersWhenDrainBegins(t *testing.T) {
	a := memClusterNode(t, cluster.NewMemStore(), "a")
	c, err := net.Dial("tcp", a.APIAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loop, h := connOf(t, a, edge.ListenerAPI)
	var first uint32
	var unpiped bool
	onLoop(t, a, loop, func(l *engine.Loop, ls *loopState) {
		first = ls.ProbeInFlight(l, h) // a routed publish in flight
		a.Draining.Store(true)
		defer a.Draining.Store(false)
		ls.ProbeDispatch(l, h, httpcodec.Persist11, publish.Result{Status: 200, ID: 2})
		unpiped = ls.Live(h).Mode == edge.ModeAsync
	})
	// Until the second publish is answered (its slot filled, or, unpiped,
	// the connection back to reading requests).
	deadline := time.Now().Add(10 * time.Second)
	for answered := false; !answered; {
		if time.Now().After(deadline) {
			t.Fatal("the second publish was not answered within 10 s")
		}
		onLoop(t, a, loop, func(_ *engine.Loop, ls *loopState) {
			answered = unpiped && ls.Live(h).Mode == edge.ModeRequest || !unpiped && ls.ProbeAnswered(h, first+1)
		})
	}
	onLoop(t, a, loop, func(l *engine.Loop, ls *loopState) {
		ls.ProbeAnswer(l, h, first, []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"))
	})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "first" {
		t.Errorf("first answer on the connection: %s; want the one in flight before the drain began", body)
	}
}
