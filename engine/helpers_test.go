package engine

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// funcHandler is a Handler built from optional functions; it records every close.
type funcHandler struct {
	open  func(l *Loop, h Handle, listener int, peer netip.Addr) bool
	data  func(l *Loop, h Handle, in []byte) int
	task  func(l *Loop, t Task)
	tick  func(l *Loop, now time.Time)
	close func(l *Loop, h Handle, err error)

	mu     sync.Mutex
	closes map[Handle][]error // every OnClose, by handle
}

func (f *funcHandler) OnOpen(l *Loop, h Handle, listener int, peer netip.Addr) bool {
	if f.open != nil {
		return f.open(l, h, listener, peer)
	}
	return true
}

func (f *funcHandler) OnData(l *Loop, h Handle, in []byte) int {
	if f.data != nil {
		return f.data(l, h, in)
	}
	return len(in)
}

func (f *funcHandler) OnClose(l *Loop, h Handle, err error) {
	f.mu.Lock()
	if f.closes == nil {
		f.closes = make(map[Handle][]error)
	}
	f.closes[h] = append(f.closes[h], err)
	f.mu.Unlock()
	if f.close != nil {
		f.close(l, h, err)
	}
}

func (f *funcHandler) OnTask(l *Loop, t Task) {
	if f.task != nil {
		f.task(l, t)
	}
}

func (f *funcHandler) OnTick(l *Loop, now time.Time) {
	if f.tick != nil {
		f.tick(l, now)
	}
}

// closeErrs returns a copy of the recorded closes.
func (f *funcHandler) closeErrs() map[Handle][]error {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[Handle][]error, len(f.closes))
	for h, errs := range f.closes {
		m[h] = append([]error(nil), errs...)
	}
	return m
}

// startEngine starts an engine with one listener on 127.0.0.1:0 and stops it at cleanup.
func startEngine(t testing.TB, cfg Config, h Handler) (*Engine, string) {
	t.Helper()
	e, err := New(cfg, h)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	addr, err := e.Listen("127.0.0.1:0", 1)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(e.Stop)
	return e, addr.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial(%s): %v", addr, err)
	}
	return c.(*net.TCPConn)
}
