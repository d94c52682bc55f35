package engine

import (
	"bufio"
	"io"
	"testing"
	"time"
)

func echoHandler() *funcHandler {
	return &funcHandler{data: func(l *Loop, h Handle, in []byte) int {
		l.Write(h, in)
		return len(in)
	}}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	h := echoHandler()
	e, addr := startEngine(t, Config{Loops: 2}, h)
	c := dial(t, addr)
	defer c.Close()
	msg := []byte("hello, engine\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(bufio.NewReader(c), got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echo = %q; want %q", got, msg)
	}
	c.Close()
	waitFor(t, "close", 5*time.Second, func() bool { return e.Stats().Closed == 1 })
	if s := e.Stats(); s.Accepted != 1 || s.Open != 0 {
		t.Fatalf("Stats = %+v; want Accepted 1, Open 0", s)
	}
	for h, errs := range h.closeErrs() {
		if len(errs) != 1 || errs[0] != io.EOF {
			t.Fatalf("OnClose(%x) errs = %v; want [EOF]", uint64(h), errs)
		}
	}
}
