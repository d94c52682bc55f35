package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestSDNotify: with NOTIFY_SOCKET set the state arrives as one datagram, as systemd reads it;
// without it nothing is sent and nothing fails.
func TestSDNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := sdNotify("MAINPID=4711\nREADY=1"); err != nil {
		t.Fatalf("sdNotify = %v", err)
	}
	buf := make([]byte, 256)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil || string(buf[:n]) != "MAINPID=4711\nREADY=1" {
		t.Fatalf("read %q, %v; want the state", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("sdNotify without NOTIFY_SOCKET = %v; want nil", err)
	}
}
