package acceptance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// TestUpgradeWithPipeliningPublisher: node a is upgraded (SIGUSR2) while a
// publisher pipelines publishes on one keep-alive connection to a, each to
// a user on node b, always with several in flight; b is stopped (SIGSTOP)
// around the upgrade, so each of those waits for a's forward deadline. The
// handoff completes: the connection's answers in flight are written, then it
// is handed over with its unread requests, and the new process answers them
// on the same connection, in order; b's subscriber gets every message
// answered delivered, in order. Before, the connection took its next
// requests as soon as its answers were out, so it had a request in flight at
// every quiesce round and the handoff failed after 5 s ("connections still
// waiting for an answer").
func TestUpgradeWithPipeliningPublisher(t *testing.T) {
	redis := "redis://" + redistest.Single(t)
	dir, installed := buildInstalled(t, "v2")
	cl := []string{"--redis", redis, "--cluster-listen", "127.0.0.1:0", "--node-ttl", "15s"}
	a := startUpgradable(t, installed, nil, append([]string{"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--node-id", "node-a"}, cl...)...)
	b := startNode(t, append([]string{"--node-id", "node-b"}, cl...)...)
	sub := b.subscribe("/sub?user=piped")
	waitFor(t, ioTimeout, "node a routes to node b's subscriber", func() bool {
		resp, err := http.Post("http://"+a.api+"/pub/user/piped", "application/json", strings.NewReader(`"warm"`))
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.Contains(string(body), `"delivered":1`)
	})

	// b's subscriber reads all along (a stream that stops reading is cut as a slow consumer).
	got := make(chan string, 1<<16)
	go func() {
		defer close(got)
		for {
			sub.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			l, err := sub.body.ReadString('\n')
			if err != nil {
				return
			}
			if strings.Contains(l, `"data":`) && !strings.Contains(l, `"data":"warm"`) {
				got <- strings.TrimSuffix(l, "\n")
			}
		}
	}()
	p := startPiper(t, a.api, 16)
	p.waitAnswers(t, 200)
	a.install(filepath.Join(dir, "pushwire-v2"))
	redistest.Pause(t, b.cmd.Process)
	a.usr2()
	outcome := regexp.MustCompile(`took every connection; exiting|upgrade failed.*`)
	var m string
	waitFor(t, 60*time.Second, "the upgrade's outcome in the log", func() bool {
		m = outcome.FindString(a.logText())
		return m != ""
	})
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(m, "upgrade failed") {
		t.Fatalf("with a pipelining publisher: %s", m)
	}
	a.awaitExit0(10 * time.Second)
	t.Log(regexp.MustCompile(`upgrade: handed over.*`).FindString(a.logText()))
	n := p.answered() + 200
	p.waitAnswers(t, n) // answered by the new process, on the same connection
	sent := p.finish(t)
	if st := a.stats(t); st["version"] != "v2" {
		t.Errorf("/stats version after the upgrade = %v; want v2", st["version"])
	}
	// Those answered delivered arrive in publish order; those a's forward
	// deadline cut short may have arrived too, in their place.
	for _, i := range p.delivered(sent) {
		for {
			line, ok := <-got
			if !ok {
				t.Fatalf("b's stream ended before message %d, answered delivered", i)
			}
			var f struct{ Data int }
			json.Unmarshal([]byte(line), &f)
			if f.Data > i {
				t.Fatalf("message %d on b's stream before message %d, answered delivered: %s", f.Data, i, line)
			}
			if f.Data == i {
				break
			}
		}
	}
}

// piper pipelines publishes 0, 1, 2, … to user piped on one connection,
// keeping up to window of them in flight; it checks that the answers' ids
// increase (answers in request order) and notes those not delivered.
type piper struct {
	window chan struct{}
	stop   chan struct{}
	wrote  chan int // the count written, once stop is closed

	mu     sync.Mutex
	n      int    // answers read
	lastID uint64 // the last answer's id
	missed []int  // publishes answered other than 200 delivered 1 (b stopped)
	err    error  // the first bad answer or read error
	done   chan struct{}
}

func startPiper(t *testing.T, api string, window int) *piper {
	c := dial(t, api)
	p := &piper{window: make(chan struct{}, window), stop: make(chan struct{}),
		wrote: make(chan int, 1), done: make(chan struct{})}
	go func() {
		i := 0
		defer func() { p.wrote <- i }()
		for ; ; i++ {
			select {
			case <-p.stop:
				return
			case p.window <- struct{}{}:
			}
			body := strconv.Itoa(i)
			req := fmt.Sprintf("POST /pub/user/piped HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			if _, err := c.Write([]byte(req)); err != nil {
				p.fail(fmt.Errorf("write request %d: %w", i, err))
				return
			}
		}
	}()
	go func() {
		defer close(p.done)
		r := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				select {
				case <-p.stop:
					return // every answer was read (finish) and the test ends
				default:
				}
				p.fail(fmt.Errorf("answer %d: %w", p.answered()+1, err))
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ans struct {
				ID        string `json:"id"`
				Delivered int    `json:"delivered"`
			}
			json.Unmarshal(body, &ans)
			id, _ := strconv.ParseUint(ans.ID, 10, 64)
			p.mu.Lock()
			switch {
			case resp.StatusCode != 200 || ans.Delivered != 1:
				p.missed = append(p.missed, p.n)
			case id <= p.lastID:
				p.setErr(fmt.Errorf("answer %d: id %d after id %d: answers out of request order", p.n+1, id, p.lastID))
			}
			if id != 0 {
				p.lastID = id
			}
			p.n++
			p.mu.Unlock()
			<-p.window
		}
	}()
	t.Cleanup(func() { c.Close() })
	return p
}

func (p *piper) fail(err error) { p.mu.Lock(); p.setErr(err); p.mu.Unlock() }

// setErr keeps the first error; p.mu must be held.
func (p *piper) setErr(err error) {
	if p.err == nil {
		p.err = err
	}
}

// delivered lists the publishes of 0..sent-1 answered 200 delivered 1.
func (p *piper) delivered(sent int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for i, m := 0, 0; i < sent; i++ {
		if m < len(p.missed) && p.missed[m] == i {
			m++
			continue
		}
		out = append(out, i)
	}
	return out
}

func (p *piper) answered() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// waitAnswers waits until n answers were read, failing on a bad one.
func (p *piper) waitAnswers(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d pipelined publishes answered", n), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			t.Fatalf("pipelining publisher: %v", p.err)
		}
		return p.n >= n
	})
}

// finish stops writing, waits for every answer and returns how many
// publishes were written.
func (p *piper) finish(t *testing.T) int {
	t.Helper()
	close(p.stop)
	wrote := <-p.wrote
	p.waitAnswers(t, wrote)
	return wrote
}
