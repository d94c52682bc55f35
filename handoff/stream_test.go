package handoff

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// takenConns is an Adopter that keeps a copy of every conn it is given.
type takenConns struct {
	meta  Meta
	conns []TakenConn
	fail  int // fail the conn with this handle (0: none)
}

func (a *takenConns) Hello(m *Meta) error { a.meta = *m; return nil }

func (a *takenConns) Conn(c *Conn, fd int) error {
	if c.Handle == uint64(a.fail) {
		unix.Close(fd)
		return errors.New("refused by the test")
	}
	r := Record{Kind: KindConn, Conn: *c}
	a.conns = append(a.conns, TakenConn{Conn: cloneRecord(&r).Conn, FD: fd})
	return nil
}

func (a *takenConns) close() {
	for _, c := range a.conns {
		unix.Close(c.FD)
	}
}

// TestStreamOverSocket: two goroutines (two loops of the old process) send 300 conns each in
// batches at once, some records spanning data packets, with QoS and HTTP/2 records (kept in
// the Taken, copies of their own) between them, after
// a listener sent the old way (Add); ReceiveStream gives every conn to the adopter with its
// own descriptor — each proven by writing through it to its client — and close-on-exec
// (Go's read asks the kernel for it: no fcntl per descriptor).
func TestStreamOverSocket(t *testing.T) {
	const perLoop = 300
	fds, clients := socketsFor(t, 2*perLoop)
	lfds, _ := socketsFor(t, 1) // stands for a listener: any socket carries
	old, newSide := pairConns(t)
	deadline := time.Now().Add(30 * time.Second)
	sent := make(chan error, 1)
	go func() {
		s := NewSender(old, deadline)
		err := s.Hello(Meta{NodeID: "node-a", Seq: 7, Boundary: "b"})
		if err == nil {
			err = s.Add(&Record{Kind: KindListener, Listener: Listener{Tag: 1}}, lfds[0])
		}
		if err != nil {
			sent <- err
			return
		}
		out := s.Batches()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for loop := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var b Batch
				for k := range perLoop {
					i := loop*perLoop + k
					r := Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1), User: fmt.Appendf(nil, "user%d", i),
						Pending: []byte(strings.Repeat("x", k*100))}}
					if err := b.Add(&r, fds[i]); err != nil {
						errs[loop] = err
						return
					}
					if k%100 == 0 {
						st := sampleStored()
						b.Add(&st, -1)
					}
					if k%100 == 1 { // an HTTP/2 conn's state right after its conn record
						h := sampleH2()
						h.H2.Handle = uint64(i + 1)
						b.Add(&h, -1)
					}
					if b.Full() {
						if errs[loop] = out.Send(&b); errs[loop] != nil {
							return
						}
					}
				}
				errs[loop] = out.Send(&b)
			}()
		}
		wg.Wait()
		if err = errors.Join(errs...); err == nil {
			err = s.End()
		}
		sent <- err
	}()

	var a takenConns
	defer a.close()
	got, err := ReceiveStream(newSide, deadline, &a)
	if err != nil {
		t.Fatalf("ReceiveStream = %v", err)
	}
	defer got.Close()
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	if a.meta.NodeID != "node-a" || a.meta.Seq != 7 || got.NodeID != "node-a" {
		t.Errorf("meta given %+v, returned %+v", a.meta, got.Meta)
	}
	if len(got.Listeners) != 1 || len(got.Stored) != 6 || len(got.Conns) != 0 || len(a.conns) != 2*perLoop {
		t.Fatalf("%d listeners, %d stored, %d conns in Taken, %d given; want 1, 6, 0, %d",
			len(got.Listeners), len(got.Stored), len(got.Conns), len(a.conns), 2*perLoop)
	}
	if len(got.H2) != 6 || len(got.H2[0].Streams) != 2 || string(got.H2[0].Streams[0].Sub.User) != "alice" || string(got.H2[0].Codec) != "codec state" {
		t.Fatalf("%d HTTP/2 records in Taken (first %+v); want 6, each its own copy with two streams", len(got.H2), got.H2)
	}
	for _, c := range a.conns {
		i := int(c.Handle) - 1
		if string(c.User) != fmt.Sprintf("user%d", i) || len(c.Pending) != i%perLoop*100 {
			t.Fatalf("conn %d: user %q pending %d", i, c.User, len(c.Pending))
		}
		if flags, err := unix.FcntlInt(uintptr(c.FD), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Fatalf("conn %d's descriptor: flags %#x, %v; want close-on-exec", i, flags, err)
		}
		writesThrough(t, c.FD, clients[i], i)
	}
}

// TestStreamReadsEitherSender: ReceiveStream reads a handoff written record by record (Add,
// as a build that does not stream sends it), and Receive one written in batches: the
// packets are the same, so the protocol version is too.
func TestStreamReadsEitherSender(t *testing.T) {
	fds, _ := socketsFor(t, 300)
	for _, batched := range []bool{false, true} {
		old, newSide := pairConns(t)
		deadline := time.Now().Add(10 * time.Second)
		go func() {
			s := NewSender(old, deadline)
			s.Hello(Meta{NodeID: "n", Boundary: "b"})
			var b Batch
			out := s.Batches()
			for i, fd := range fds {
				r := Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1)}}
				if !batched {
					s.Add(&r, fd)
					continue
				}
				b.Add(&r, fd)
				if b.Full() {
					out.Send(&b)
				}
			}
			out.Send(&b)
			s.End()
		}()
		n := 0
		if batched {
			got, err := Receive(newSide, deadline)
			if err != nil {
				t.Fatalf("Receive(batches) = %v", err)
			}
			n = len(got.Conns)
			got.Close()
		} else {
			var a takenConns
			_, err := ReceiveStream(newSide, deadline, &a)
			a.close()
			if err != nil {
				t.Fatalf("ReceiveStream(records added one by one) = %v", err)
			}
			n = len(a.conns)
		}
		if n != len(fds) {
			t.Errorf("batched %v: %d conns received; want %d", batched, n, len(fds))
		}
	}
}

// TestStreamAdopterRefuses: an adopter's error ends ReceiveStream with it; the descriptors
// not given to the adopter are closed, not leaked.
func TestStreamAdopterRefuses(t *testing.T) {
	fds, _ := socketsFor(t, 20)
	old, newSide := pairConns(t)
	deadline := time.Now().Add(10 * time.Second)
	go func() {
		s := NewSender(old, deadline)
		s.Hello(Meta{NodeID: "n", Boundary: "b"})
		for i, fd := range fds {
			s.Add(&Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1)}}, fd)
		}
		s.End()
	}()
	before := openFDs(t)
	a := takenConns{fail: 5}
	_, err := ReceiveStream(newSide, deadline, &a)
	if err == nil || !strings.Contains(err.Error(), "refused by the test") {
		t.Fatalf("ReceiveStream = %v; want the adopter's error", err)
	}
	if len(a.conns) != 4 {
		t.Errorf("%d conns given before the refusal; want 4", len(a.conns))
	}
	a.close()
	if after := openFDs(t); after > before {
		t.Errorf("%d descriptors open after the refused handoff, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	d, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	buf := make([]byte, 1<<16)
	n := 0
	for {
		k, err := unix.ReadDirent(d, buf)
		if err != nil || k == 0 {
			return n
		}
		_, c, _ := unix.ParseDirent(buf[:k], -1, nil)
		n += c
	}
}

// TestBatchKeepsNoKeys: once a batch is sent, its buffer holds no TLS state.
func TestBatchKeepsNoKeys(t *testing.T) {
	fds, _ := socketsFor(t, 3)
	old, newSide := pairConns(t)
	go func() {
		buf, oob := make([]byte, MaxPacket+1), make([]byte, 4096)
		for {
			if _, _, _, _, err := newSide.ReadMsgUnix(buf, oob); err != nil {
				return
			}
		}
	}()
	s := NewSender(old, time.Now().Add(10*time.Second))
	var b Batch
	for i, fd := range fds {
		r := Record{Kind: KindConn, Conn: Conn{Handle: uint64(i + 1), Transport: TransportTLS, State: bytes.Clone(secretState),
			Pending: bytes.Repeat([]byte{'p'}, MaxPacket)}} // the batch spans packets
		if err := b.Add(&r, fd); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Batches().Send(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.buf[:cap(b.buf)], secretState[:24]) {
		t.Errorf("the batch still holds a TLS state after it was sent")
	}
}

// TestStreamReceiverKeepsNoKeys: the stream receiver clears what it handled; the adopter's
// view is the only copy while it runs.
func TestStreamReceiverKeepsNoKeys(t *testing.T) {
	rec := Record{Kind: KindConn, Conn: Conn{Handle: 1, Transport: TransportTLS, State: bytes.Clone(secretState)}}
	wire, err := AppendRecord(nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	var a takenConns
	r := streamReceiver{a: &a, fds: []int{-1}}
	r.buf = append(r.buf, wire...)
	if err := r.handle(&Taken{}); err != nil {
		t.Fatal(err)
	}
	if len(a.conns) != 1 || !bytes.Equal(a.conns[0].State, secretState) {
		t.Fatalf("adopted %d conns; want the conn with its state", len(a.conns))
	}
	if bytes.Contains(r.buf[:cap(r.buf)], secretState[:24]) {
		t.Errorf("the receiver's buffer still holds the TLS state after handing it on")
	}
}

// writesThrough proves that received descriptor fd is conn i: what is written through it
// reaches client.
func writesThrough(t *testing.T, fd int, client net.Conn, i int) {
	t.Helper()
	msg := fmt.Sprintf("conn %d", i)
	if _, err := unix.Write(fd, []byte(msg)); err != nil {
		t.Fatalf("write to received fd %d: %v", i, err)
	}
	buf := make([]byte, 32)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := client.Read(buf)
	if err != nil || string(buf[:k]) != msg {
		t.Fatalf("client %d read %q, %v; want %q", i, buf[:k], err, msg)
	}
}
