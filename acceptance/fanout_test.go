package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fanSub is one of many subscribers held by a goroutine of its own.
type fanSub struct {
	conn net.Conn
	br   *bufio.Reader
	key  string
}

// openFanSub subscribes without touching testing.T, so that many goroutines
// can do it at once.
func openFanSub(addr, target string) (*fanSub, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	s := &fanSub{conn: c, br: bufio.NewReaderSize(resp.Body, 512), key: resp.Header.Get("Push-Conn")}
	line, err := s.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, `{"protocol":1,`) {
		c.Close()
		return nil, fmt.Errorf("registered line %q: %v", line, err)
	}
	return s, nil
}

// TestFanOut5000: one topic push reaches 5,000 connections.
func TestFanOut5000(t *testing.T) {
	const conns, pushes = 5000, 3
	n := startNode(t, "--max-conns", "6000", "--heartbeat", "5m")

	subs := make([]*fanSub, conns)
	var mu sync.Mutex
	var firstErr error
	var retried []string
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s, err := openFanSub(n.edge, "/sub?topic=fan&format=ndjson")
				if err != nil {
					// A burst of connects can overflow the kernel's accept
					// queue; a client retries, and so does this one, once.
					mu.Lock()
					retried = append(retried, err.Error())
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					s, err = openFanSub(n.edge, "/sub?topic=fan&format=ndjson")
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("subscriber %d: %w", i, err)
					}
					mu.Unlock()
					continue
				}
				subs[i] = s
			}
		}()
	}
	for i := 0; i < conns; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.conn.Close()
			}
		}
	}()
	if len(retried) > 0 {
		t.Logf("%d subscribes retried; first error: %s", len(retried), retried[0])
	}
	if firstErr != nil {
		t.Fatalf("opening %d subscribers: %v", conns, firstErr)
	}
	if st := n.stats(); st["connections"] != conns || st["topics"] != 1 {
		t.Fatalf("/stats connections %v topics %v; want %d and 1", st["connections"], st["topics"], conns)
	}

	// Every subscriber reads its pushes in its own goroutine.
	results := make(chan error, conns)
	for _, s := range subs {
		go func(s *fanSub) {
			s.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			for k := 0; k < pushes; k++ {
				line, err := s.br.ReadString('\n')
				if err != nil {
					results <- fmt.Errorf("conn %s push %d: %v", s.key, k, err)
					return
				}
				var p struct {
					Protocol int
					To       string
					Data     string
				}
				if err := json.Unmarshal([]byte(line), &p); err != nil || p.Protocol != 2 || p.To != "topic:fan" || p.Data != fmt.Sprintf("fan-%d", k) {
					results <- fmt.Errorf("conn %s push %d: got %q; want data fan-%d to topic:fan", s.key, k, line, k)
					return
				}
			}
			results <- nil
		}(s)
	}
	start := time.Now()
	for k := 0; k < pushes; k++ {
		res := n.mustPub(200, "topic/fan", fmt.Sprintf("fan-%d", k))
		if string(res["delivered"]) != fmt.Sprint(conns) {
			t.Errorf("POST /pub/topic/fan delivered %s; want %d", res["delivered"], conns)
		}
	}
	failed := 0
	for i := 0; i < conns; i++ {
		if err := <-results; err != nil {
			if failed < 5 {
				t.Error(err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d subscribers missed pushes", failed, conns)
	}
	t.Logf("%d pushes reached all %d subscribers in %v", pushes, conns, time.Since(start))
	if st := n.stats(); st["messages_out"] != conns*pushes {
		t.Errorf("/stats messages_out = %v; want %d", st["messages_out"], conns*pushes)
	}

	for _, s := range subs {
		s.conn.Close()
	}
	waitFor(t, 30*time.Second, "closed subscribers still counted", func() bool {
		st := n.stats()
		return st["connections"] == 0 && st["topics"] == 0
	})
}
