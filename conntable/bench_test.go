package conntable

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Run the 1M-entry (and 10M-entry) benchmarks alone, once:
//
//	go test -run '^$' -bench 'Entries|GC' -benchtime 1x ./conntable
const million = 1 << 20

// fill adds n synthetic connections: a random key, one user membership and one
// topic membership each, with users distinct names when perUser is 1 and
// shared by perUser conns otherwise, over 1000 topics. toks must have room for
// 2n tokens, made before the caller's baseline so it is not counted.
func fill(tb *Table, keys *Keys, n, perUser int, toks []Membership) []Membership {
	rng := rand.New(rand.NewPCG(7, 7))
	name := make([]byte, 0, 32)
	for i := range n {
		h := Sub(i+1) | 1<<32
		keys.Set(i, h, [2]uint64{rng.Uint64(), rng.Uint64()})
		name = strconv.AppendInt(append(name[:0], "user-"...), int64(i/perUser), 10)
		toks = append(toks, tb.Join(Users, name, h))
		name = strconv.AppendInt(append(name[:0], "topic-"...), int64(i%1000), 10)
		toks = append(toks, tb.Join(Topics, name, h))
	}
	return toks
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkEntries reports the heap bytes one connection costs in the table:
// its conn key in Keys + one user Join + one topic Join, 1M of them live (and
// 10M, for the cost model of BENCHMARKS.md: a node that would hold 10M).
func BenchmarkEntries(b *testing.B) {
	for _, c := range []struct {
		name       string
		perUser, n int
	}{{"distinct-users", 1, million}, {"4-conns-per-user", 4, million}, {"distinct-users-10M", 1, 10 * million}} {
		b.Run(c.name, func(b *testing.B) {
			toks := make([]Membership, 0, 2*c.n)
			var perEntry float64
			for range b.N {
				before := heapAlloc()
				tb, keys := New(64), new(Keys)
				toks = fill(tb, keys, c.n, c.perUser, toks[:0])
				perEntry = float64(heapAlloc()-before) / float64(c.n)
				runtime.KeepAlive(tb)
				runtime.KeepAlive(keys)
			}
			b.ReportMetric(perEntry, "B/entry")
		})
	}
}

// BenchmarkGC measures a full collection with a 1M-entry table live: the wall
// time of runtime.GC (mark and sweep, mostly concurrent) and the collector's
// own stop-the-world pause, next to the same with an empty heap.
func BenchmarkGC(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"empty", 0}, {"1M-entries", million}} {
		b.Run(c.name, func(b *testing.B) {
			tb, keys := New(64), new(Keys)
			fill(tb, keys, c.n, 1, make([]Membership, 0, 2*c.n))
			runtime.GC()
			walls := make([]time.Duration, 0, 16)
			var pauses []uint64
			var ms runtime.MemStats
			b.ResetTimer()
			for range max(b.N, 9) {
				start := time.Now()
				runtime.GC()
				walls = append(walls, time.Since(start))
				runtime.ReadMemStats(&ms)
				pauses = append(pauses, ms.PauseNs[(ms.NumGC+255)%256])
			}
			b.StopTimer()
			slices.Sort(walls)
			slices.Sort(pauses)
			// The minimum is the collector's own cost; the median adds
			// whatever else the shared machine was doing.
			b.ReportMetric(float64(walls[0])/1e6, "gc-wall-min-ms")
			b.ReportMetric(float64(walls[len(walls)/2])/1e6, "gc-wall-med-ms")
			b.ReportMetric(float64(pauses[len(pauses)/2])/1e6, "gc-stw-ms")
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
			runtime.KeepAlive(tb)
			runtime.KeepAlive(keys)
		})
	}
}

// benchTable has 1000 topics of 64 members and 64k distinct users, so
// lookups walk a realistically sized index.
func benchTable() *Table {
	tb := New(64)
	fill(tb, new(Keys), 64<<10, 1, make([]Membership, 0, 128<<10))
	return tb
}

func BenchmarkJoinLeave(b *testing.B) {
	tb := benchTable()
	name := []byte("topic-42")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tb.Leave(tb.Join(Topics, name, Sub(i)))
	}
}

// BenchmarkJoinLeaveNewName includes creating and removing the group.
func BenchmarkJoinLeaveNewName(b *testing.B) {
	tb := benchTable()
	name := []byte("a-fresh-user-name")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tb.Leave(tb.Join(Users, name, Sub(i)))
	}
}

func BenchmarkJoinLeaveParallel(b *testing.B) {
	tb := benchTable()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		name := make([]byte, 0, 16)
		for i := 0; pb.Next(); i++ {
			name = strconv.AppendInt(append(name[:0], "topic-"...), int64(i%1000), 10)
			tb.Leave(tb.Join(Topics, name, Sub(i)))
		}
	})
}

func BenchmarkAppendMembers(b *testing.B) {
	tb := benchTable()
	name := []byte("topic-42")
	dst := make([]Sub, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		dst = tb.AppendMembers(dst[:0], Topics, name)
	}
	b.ReportMetric(float64(len(dst)), "members")
}

func BenchmarkKeysMatch(b *testing.B) {
	var k Keys
	for i := range 1024 {
		k.Set(i, Sub(i)|1<<32, [2]uint64{uint64(i), uint64(i * 7919)})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := i & 1023
		k.Match(s, Sub(s)|1<<32, [2]uint64{uint64(s), uint64(s * 7919)})
	}
}

func BenchmarkWheelScheduleCancel(b *testing.B) {
	w := NewWheel(100*time.Millisecond, 4096, t0)
	at := t0.Add(25 * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		w.Cancel(w.Schedule(1, at))
	}
}

// BenchmarkWheelAdvance keeps 100k timers live (a heartbeat each, 25s out at
// 100ms ticks) and per op schedules one, fires about one and cancels none;
// it reports ns per timer handled.
func BenchmarkWheelAdvance(b *testing.B) {
	w := NewWheel(100*time.Millisecond, 4096, t0)
	const live = 100_000
	now := t0
	for i := range live {
		w.Schedule(Handle(i), now.Add(time.Duration(i%250)*100*time.Millisecond))
	}
	fire := func(h Handle, _ TimerID) { w.Schedule(h, now.Add(25*time.Second)) }
	perTick := live / 250
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%perTick == 0 {
			now = now.Add(100 * time.Millisecond)
			w.Advance(now, fire)
		}
	}
}
