package conntable

import "time"

// TimerID names one scheduled timer; 0 means none. Bits 0..31 are the timer
// record's index, bits 32..63 its generation (never 0), bumped whenever the
// record is freed, so an ID that fired or was cancelled no longer matches.
type TimerID uint64

// Wheel is a hashed timing wheel for per-connection deadlines (heartbeats,
// header timeouts, long-poll timeouts) without a time.Timer per connection.
// Time is cut into ticks; slot (tick mod slots) holds a doubly linked list of
// the timers due in that tick or in a later turn of the wheel. Each timer
// keeps its absolute due tick, so a timer further away than one turn waits in
// its slot until its own turn comes.
//
// A Wheel is not safe for concurrent use: it belongs to one engine loop, which
// calls Advance from its tick. Timers live in a pointer-free slab with a free
// list, so steady-state Schedule, Cancel and Advance allocate nothing.
type Wheel struct {
	tick  time.Duration
	start time.Time
	cur   int64    // last tick Advance completed; timers are always due after it
	slots []uint32 // head timer index+1 of each slot; len is a power of two
	mask  int64

	timers slab[timer]
	free   uint32 // head of the free timer list, index+1

	firing []TimerID // Advance's scratch: one slot's due timers, reused
}

// timer is one scheduled deadline, 32 bytes, no pointers.
type timer struct {
	h     Handle
	due   int64  // absolute tick
	next  uint32 // next in slot (index+1); on the free list: next free
	prev  uint32 // previous in slot (index+1); 0 when head
	gen   uint32
	state timerState
}

type timerState uint8

const (
	timerFree    timerState = iota
	timerLinked             // in its slot's list
	timerPending            // taken out of its slot by Advance, about to fire
)

// NewWheel returns a Wheel whose time starts at now, with the given tick
// (its resolution: a timer fires at the first Advance at or after its time,
// up to one tick late) and number of slots, rounded up to a power of two.
// One turn (tick × slots) should cover the common deadlines; longer ones
// still work, revisited once per turn. tick ≤ 0 means 100ms, slots ≤ 0 4096.
func NewWheel(tick time.Duration, slots int, now time.Time) *Wheel {
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	if slots <= 0 {
		slots = 4096
	}
	n := 1
	for n < slots && n < 1<<30 {
		n <<= 1
	}
	return &Wheel{tick: tick, start: now, slots: make([]uint32, n), mask: int64(n - 1)}
}

// Schedule arranges for fire(h, id) at the first Advance whose now is at or
// after at. A time already past fires at the next Advance (never within the
// Advance that is running, if called from its fire callback). O(1).
func (w *Wheel) Schedule(h Handle, at time.Time) TimerID {
	d := at.Sub(w.start)
	due := int64(d / w.tick)
	if d%w.tick > 0 {
		due++ // round up: never fire early
	}
	if due <= w.cur {
		due = w.cur + 1
	}
	ti := w.alloc()
	t := w.timers.at(ti)
	t.h = h
	t.due = due
	t.state = timerLinked
	w.link(ti, t)
	return TimerID(uint64(t.gen)<<32 | uint64(ti))
}

// Cancel stops the timer id. A zero, fired or already cancelled id is ignored,
// so callers need not track whether a timer is still pending. O(1).
func (w *Wheel) Cancel(id TimerID) {
	t, ti, ok := w.lookup(id)
	if !ok {
		return
	}
	if t.state == timerLinked {
		w.unlink(ti, t)
	}
	w.release(ti, t) // a pending timer is skipped by Advance once its gen moves on
}

// Advance fires every timer due by now, calling fire(h, id) for each, slot by
// slot in tick order (so in due order when the wheel moved less than one turn;
// after a longer jump, in slot order). fire may Schedule and Cancel freely; a
// timer scheduled from fire is due no earlier than the next Advance. A now
// earlier than the last one is ignored.
func (w *Wheel) Advance(now time.Time, fire func(h Handle, id TimerID)) {
	target := int64(now.Sub(w.start) / w.tick)
	if target <= w.cur {
		return
	}
	from := w.cur
	w.cur = target // from here on Schedule places timers after target
	steps := min(target-from, w.mask+1)
	for tick := from + 1; tick <= from+steps; tick++ {
		w.collect(tick&w.mask, target)
		for _, id := range w.firing {
			t, ti, ok := w.lookup(id)
			if !ok {
				continue // cancelled by an earlier fire in this batch
			}
			h := t.h
			w.release(ti, t)
			fire(h, id)
		}
	}
}

// collect moves the timers of slot s that are due by target from the slot
// into w.firing, marking them pending.
func (w *Wheel) collect(s int64, target int64) {
	w.firing = w.firing[:0]
	for next := w.slots[s]; next != 0; {
		ti := next - 1
		t := w.timers.at(ti)
		next = t.next
		if t.due > target {
			continue // a later turn of the wheel
		}
		w.unlink(ti, t)
		t.state = timerPending
		w.firing = append(w.firing, TimerID(uint64(t.gen)<<32|uint64(ti)))
	}
}

// lookup returns the live timer id names.
func (w *Wheel) lookup(id TimerID) (*timer, uint32, bool) {
	ti, gen := uint32(id), uint32(id>>32)
	if id == 0 || ti >= w.timers.n {
		return nil, 0, false
	}
	t := w.timers.at(ti)
	if t.gen != gen || t.state == timerFree {
		return nil, 0, false
	}
	return t, ti, true
}

// link pushes timer ti onto the head of its due slot.
func (w *Wheel) link(ti uint32, t *timer) {
	s := t.due & w.mask
	t.prev = 0
	t.next = w.slots[s]
	if t.next != 0 {
		w.timers.at(t.next - 1).prev = ti + 1
	}
	w.slots[s] = ti + 1
}

// unlink takes timer ti out of its slot.
func (w *Wheel) unlink(ti uint32, t *timer) {
	if t.prev != 0 {
		w.timers.at(t.prev - 1).next = t.next
	} else {
		w.slots[t.due&w.mask] = t.next
	}
	if t.next != 0 {
		w.timers.at(t.next - 1).prev = t.prev
	}
	t.next, t.prev = 0, 0
}

// alloc returns a free timer record, recycled when possible; a fresh one
// starts at generation 1.
func (w *Wheel) alloc() uint32 {
	if w.free != 0 {
		ti := w.free - 1
		w.free = w.timers.at(ti).next
		return ti
	}
	ti := w.timers.grow()
	w.timers.at(ti).gen = 1
	return ti
}

// release frees timer ti and bumps its generation so its ID goes stale.
func (w *Wheel) release(ti uint32, t *timer) {
	t.gen++
	if t.gen == 0 {
		t.gen = 1
	}
	t.state = timerFree
	t.h = 0
	t.prev = 0
	t.next = w.free
	w.free = ti + 1
}
