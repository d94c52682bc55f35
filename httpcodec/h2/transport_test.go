package h2

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// TestGoClient: a real x/net/http2 client (h2c, prior knowledge) over a
// loopback socket whose server end is driven through Conn. Ten GETs share
// the connection, each receiving streaming DATA: the second event is sent
// only after the client has read the first. A POST delivers its body.
func TestGoClient(t *testing.T) {
	drivers := make(chan *driver, 1)
	addr := serveLoopback(t, Config{}, func(d *driver, id uint32, method, path string, body []byte) {
		switch {
		case method == "POST":
			d.out, _ = d.c.WriteHeaders(d.out, id, 200, []Field{{"content-type", "text/plain"}}, false)
			d.out, _ = d.c.WriteData(d.out, id, append([]byte("got "), body...), true)
		default:
			d.out, _ = d.c.WriteHeaders(d.out, id, 200, []Field{{"content-type", "text/event-stream"}}, false)
			d.out, _ = d.c.WriteData(d.out, id, []byte("data: first "+path+"\n\n"), false)
		}
	}, func(d *driver) { drivers <- d })
	dials := 0
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			dials++
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + addr

	// The first request opens the connection; the driver exists after it.
	resp, err := client.Post(base+"/ack?id=7", "text/plain", strings.NewReader("ack body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" || string(b) != "got ack body" {
		t.Fatalf("POST: %d %s %q", resp.StatusCode, resp.Proto, b)
	}
	d := <-drivers

	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	readers := make([]*bufio.Reader, n)
	bodies := make([]io.Closer, n)
	for i := range n {
		resp, err := client.Get(fmt.Sprintf("%s/sub/%d", base, i))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("GET %d: %d %v", i, resp.StatusCode, resp.Header)
		}
		readers[i], bodies[i] = bufio.NewReader(resp.Body), resp.Body
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, want := range []string{fmt.Sprintf("data: first /sub/%d", i), "data: second"} {
				line, err := readers[i].ReadString('\n')
				readers[i].ReadString('\n')
				if err != nil || line != want+"\n" {
					errs <- fmt.Errorf("stream %d read %q, %v; want %q", i, line, err, want)
					return
				}
				if want != "data: second" {
					errs <- nil // first event read: the server may send the second
				}
			}
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Every stream has read its first event; one broadcast to all ten,
	// coalesced into one write.
	d.do(func(d *driver) {
		for id := uint32(3); id < 3+2*n; id += 2 {
			d.out, _ = d.c.WriteData(d.out, id, []byte("data: second\n\n"), false)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Closing a body resets its stream; the connection keeps the others.
	bodies[0].Close()
	streams := make(chan int)
	for {
		d.do(func(d *driver) { streams <- d.c.NumStreams() })
		if <-streams == n-1 {
			break
		}
	}
	for _, b := range bodies[1:] {
		b.Close()
	}
	if dials != 1 {
		t.Fatalf("%d connections dialled; want 1 shared by every request", dials)
	}
}
