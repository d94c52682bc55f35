package links

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/pushwire/pushwire/cluster"
)

var (
	quiet = slog.New(slog.DiscardHandler)
	bg    = context.Background()
)

// testNode is a LinkServer on a free loopback port registered in a cluster.MemStore.
type testNode struct {
	srv  *LinkServer
	addr string
}

func startNode(t testing.TB, store *cluster.MemStore, id string, h Handler) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewLinkServer(h, LinkServerOptions{Logger: quiet})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d := cluster.NewMemDirectory(store, cluster.Node{ID: id, Addr: ln.Addr().String()}, nil)
	d.Start(bg)
	return &testNode{srv: srv, addr: ln.Addr().String()}
}

// proxy forwards TCP connections to a backend and can cut them all at once, as a network fault.
type proxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   []net.Conn
}

func startProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, backend: backend}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// cut closes every proxied connection.
func (p *proxy) cut() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// Forward sends p alone to node nodeID and waits for its result: ForwardBatch of one, which the
// link tests use to watch single pushes (the server always sends batches).
func (l *Links) Forward(ctx context.Context, nodeID string, p *Push) (Result, error) {
	ps := [1]*Push{p}
	res, err := l.forward(ctx, nodeID, ps[:])
	return res[0], err
}
