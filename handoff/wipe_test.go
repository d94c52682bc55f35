package handoff

import (
	"bytes"
	"testing"
	"time"
)

// secretState stands for a TLS conn's exported keys: a pattern no other record byte makes.
var secretState = bytes.Repeat([]byte{0xA5, 0x5A, 0xC3}, 40)

// TestSenderKeepsNoKeys: once a TLS conn's record is sent, none of the sender's buffers holds
// its state any more (the old process keeps the keys only in the conn's engine slot, which a
// failed handoff resumes with).
func TestSenderKeepsNoKeys(t *testing.T) {
	fds, _ := socketsFor(t, 3)
	old, newSide := pairConns(t)
	go func() { // the new process's side: read until the sender is done
		buf, oob := make([]byte, MaxPacket+1), make([]byte, 4096)
		for {
			if _, _, _, _, err := newSide.ReadMsgUnix(buf, oob); err != nil {
				return
			}
		}
	}()
	s := NewSender(old, time.Now().Add(10*time.Second))
	for i, fd := range fds {
		r := Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1), Transport: TransportTLS, State: bytes.Clone(secretState)}}
		if err := s.Add(&r, fd); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"records": s.records, "data": s.data, "pkt": s.pkt} {
		if bytes.Contains(b[:cap(b)], secretState[:24]) {
			t.Errorf("the sender's %s buffer still holds a TLS state after the handoff was sent", name)
		}
	}
}

// TestReceiverKeepsOneCopy: the receiver clears each packet and the parsed part of its
// buffer, so a TLS conn's state lives only in its TakenConn (which the adopter clears).
func TestReceiverKeepsOneCopy(t *testing.T) {
	rec := Record{Kind: KindConn, Conn: Conn{Handle: 1, Transport: TransportTLS, State: bytes.Clone(secretState)}}
	wire, err := AppendRecord(nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	var r receiver
	taken := &Taken{}
	first, second := bytes.Clone(wire[:len(wire)/2]), bytes.Clone(wire[len(wire)/2:])
	for _, p := range [][]byte{first, second} {
		if err := r.data(taken, p); err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsFunc(p, func(c rune) bool { return c != 0 }) {
			t.Errorf("a data packet was not cleared after it was read")
		}
	}
	if len(r.recs) != 1 || !bytes.Equal(r.recs[0].Conn.State, secretState) {
		t.Fatalf("parsed %d records; want the conn with its state", len(r.recs))
	}
	if bytes.Contains(r.buf[:cap(r.buf)], secretState[:24]) {
		t.Errorf("the receiver's buffer still holds the TLS state after parsing it")
	}
}
