// Package tlsconn holds a loop's TLS connections: each one's record layer (tlslayer.Conn)
// and the ciphertext it has sealed and not yet written, in a pointer-free-indexed table the
// engine's slot names by int32 index+1 (0 = a plaintext conn), as it names its connbuf
// queues. It drives the handshake and the record layer between the loop's buffers: the
// flights and alerts to send, the plaintext queued for a conn sealed into its ciphertext
// buffer (which the conn holds only while sealed bytes wait for the kernel), the write of
// that buffer, the conns whose AEADs go cold, and the state a conn carries to another
// process in an upgrade.
//
// What a conn's bytes mean for the conn — its pending count, its epoll interest, OnData,
// closing — is the engine's: every call here returns what it queued or wrote, and the
// engine accounts for it. A Table belongs to one loop and only that loop's goroutine
// touches it: nothing here locks. Only the engine imports it.
package tlsconn

import (
	"unsafe"

	"github.com/pushwire/pushwire/tlslayer"
	"golang.org/x/sys/unix"
)

const (
	pageBits = 8
	pageLen  = 1 << pageBits
)

// Conn is one connection's TLS state.
type Conn struct {
	c     tlslayer.Conn
	srv   *tlslayer.Server
	ct    []byte // sealed bytes not yet written, from ctOff; nil when none
	ctOff int
	warm  bool // on Table.warm
	// Closed is set once a close_notify is sealed (or an alert ends the conn): plaintext
	// queued later is dropped.
	Closed bool
	gen    uint32 // bumped by Put: a warm entry of an earlier conn no longer matches
	// Born is the unix ns of the accept: the handshake's start (engine
	// Config.OnTLSHandshake).
	Born int64
}

// Table is a loop's TLS states, in pages that never move, named by index+1. Each conn's
// pointer-free tlslayer.Keys (264 bytes: what an idle TLS conn holds) lives in keys, pages
// mapped outside the Go heap: on the heap they would count towards the collector's goal,
// which after a storm of handshakes lets the heap keep twice the live bytes (BENCHMARKS.md,
// TLS). The heap part of a conn is its Conn (104 bytes).
type Table struct {
	pages [][]Conn
	keys  [][]tlslayer.Keys // mmap'd (or heap when mmap fails), by the same index as pages
	mmaps [][]byte          // the mappings behind keys, unmapped by Release
	n     int32
	free  []int32
	warm  []warmConn
	out   []byte // handshake output scratch
}

// warmConn is a conn holding built AEADs or used since the last Cool (tlslayer Conn.Idle).
type warmConn struct {
	idx int32
	gen uint32
}

// At returns the state idx names; idx must come from Get and not be Put since.
func (t *Table) At(idx int32) *Conn {
	i := idx - 1
	return &t.pages[i>>pageBits][i&(pageLen-1)]
}

// Get takes a state for a conn of srv's listener and returns its index+1.
func (t *Table) Get(srv *tlslayer.Server) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = t.n
		if int(i>>pageBits) == len(t.pages) {
			t.pages = append(t.pages, make([]Conn, pageLen))
			t.keys = append(t.keys, t.keyPage())
		}
		t.n++
	}
	tc := &t.pages[i>>pageBits][i&(pageLen-1)]
	tc.srv = srv
	tc.c.Bind(&t.keys[i>>pageBits][i&(pageLen-1)])
	return i + 1
}

// keyPage maps a page of Keys outside the Go heap (anonymous memory, touched only as conns
// use it); on the heap when mapping fails.
func (t *Table) keyPage() []tlslayer.Keys {
	size := pageLen * int(unsafe.Sizeof(tlslayer.Keys{}))
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]tlslayer.Keys, pageLen)
	}
	t.mmaps = append(t.mmaps, mem)
	return unsafe.Slice((*tlslayer.Keys)(unsafe.Pointer(&mem[0])), pageLen)
}

// Put frees the state idx names (a running handshake's helper ends); sealed bytes not
// yet written are dropped with it.
func (t *Table) Put(idx int32) {
	tc := t.At(idx)
	tc.c.Close()
	*tc = Conn{gen: tc.gen + 1}
	t.free = append(t.free, idx-1)
}

// Release unmaps the Keys pages; every state must be Put.
func (t *Table) Release() {
	t.keys = nil
	for _, m := range t.mmaps {
		unix.Munmap(m)
	}
	t.mmaps = nil
}

// MarkWarm puts conn idx on the list Cool checks when it holds AEADs or was used.
func (t *Table) MarkWarm(idx int32) {
	if tc := t.At(idx); !tc.warm && tc.c.Warm() {
		tc.warm = true
		t.warm = append(t.warm, warmConn{idx: idx, gen: tc.gen})
	}
}

// Warm returns how many conns Cool has to check.
func (t *Table) Warm() int { return len(t.warm) }

// Cool runs every period: conns that neither sealed nor opened a record since the last
// run drop their AEADs (tlslayer.Conn.Idle), so only busy conns hold them.
func (t *Table) Cool() {
	kept := t.warm[:0]
	for _, w := range t.warm {
		tc := t.At(w.idx)
		if tc.gen != w.gen {
			continue // put since
		}
		if tc.c.Idle() {
			tc.warm = false
			continue
		}
		kept = append(kept, w)
	}
	clear(t.warm[len(kept):])
	t.warm = kept
}
