package conntable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"unsafe"
)

func members(t *Table, g Group, name string) []Sub {
	hs := t.AppendMembers(nil, g, []byte(name))
	slices.Sort(hs)
	return hs
}

func TestJoinLeave(t *testing.T) {
	t.Parallel()
	type op struct {
		leave int // index of the earlier join to leave, or -1 to join
		g     Group
		name  string
		h     Sub
	}
	type check struct {
		g    Group
		name string
		want []Sub
	}
	join := func(g Group, name string, h Sub) op { return op{leave: -1, g: g, name: name, h: h} }
	leave := func(i int) op { return op{leave: i} }
	cases := []struct {
		name          string
		ops           []op
		checks        []check
		users, topics int
	}{
		{"empty", nil, []check{{Users, "a", nil}, {Topics, "a", nil}}, 0, 0},
		{"one of each",
			[]op{join(Users, "a", 1), join(Topics, "a", 2)},
			[]check{{Users, "a", []Sub{1}}, {Topics, "a", []Sub{2}}}, 1, 1},
		{"many in one topic",
			[]op{join(Topics, "t", 3), join(Topics, "t", 1), join(Topics, "t", 2)},
			[]check{{Topics, "t", []Sub{1, 2, 3}}, {Users, "t", nil}}, 0, 1},
		{"leave middle, head and tail",
			[]op{join(Topics, "t", 1), join(Topics, "t", 2), join(Topics, "t", 3), join(Topics, "t", 4),
				leave(1), leave(3), leave(0)},
			[]check{{Topics, "t", []Sub{3}}}, 0, 1},
		{"last leave removes the group",
			[]op{join(Users, "u", 1), join(Users, "u", 2), leave(0), leave(1)},
			[]check{{Users, "u", nil}}, 0, 0},
		{"stale token is harmless",
			[]op{join(Users, "u", 1), leave(0), join(Users, "u", 2), leave(0), leave(0)},
			[]check{{Users, "u", []Sub{2}}}, 1, 0},
		{"same handle twice",
			[]op{join(Users, "u", 7), join(Users, "u", 7), leave(0)},
			[]check{{Users, "u", []Sub{7}}}, 1, 0},
		{"empty name is a name",
			[]op{join(Topics, "", 5)},
			[]check{{Topics, "", []Sub{5}}, {Topics, "x", nil}}, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := New(2)
			var toks []Membership
			for _, o := range c.ops {
				if o.leave >= 0 {
					tb.Leave(toks[o.leave])
					toks = append(toks, 0)
					continue
				}
				toks = append(toks, tb.Join(o.g, []byte(o.name), o.h))
			}
			for _, ch := range c.checks {
				if got := members(tb, ch.g, ch.name); !slices.Equal(got, ch.want) {
					t.Errorf("AppendMembers(%d, %q) = %v; want %v", ch.g, ch.name, got, ch.want)
				}
				if got := tb.HasMembers(ch.g, []byte(ch.name)); got != (len(ch.want) > 0) {
					t.Errorf("HasMembers(%d, %q) = %v; want %v", ch.g, ch.name, got, len(ch.want) > 0)
				}
			}
			if u, tp := tb.Counts(); u != c.users || tp != c.topics {
				t.Errorf("Counts users, topics = %d, %d; want %d, %d", u, tp, c.users, c.topics)
			}
		})
	}
}

func TestLeaveForeignTokens(t *testing.T) {
	t.Parallel()
	tb := New(4)
	m := tb.Join(Users, []byte("u"), 1)
	for _, bad := range []Membership{0, m ^ 1<<(indexBits+shardBits), m + 1000, ^Membership(0), makeMembership(maxShards-1, 3, 1)} {
		tb.Leave(bad)
	}
	if got := members(tb, Users, "u"); !slices.Equal(got, []Sub{1}) {
		t.Fatalf("after foreign Leaves, members = %v; want [1]", got)
	}
}

// TestModel churns many names through a small table and compares every
// answer with a plain map, exercising index growth, backward-shift deletion,
// record recycling and arena compaction.
func TestModel(t *testing.T) {
	t.Parallel()
	tb := New(2)
	rng := rand.New(rand.NewPCG(1, 2))
	type live struct {
		g    Group
		name string
		h    Sub
		m    Membership
	}
	var lives []live
	model := map[string]map[Sub]int{}
	mkey := func(g Group, name string) string { return fmt.Sprint(g, "/", name) }
	for step := 0; step < 60000; step++ {
		if len(lives) > 0 && (rng.IntN(2) == 0 || len(lives) > 3000) {
			i := rng.IntN(len(lives))
			l := lives[i]
			tb.Leave(l.m)
			tb.Leave(l.m) // stale repeat must do nothing
			mk := mkey(l.g, l.name)
			if model[mk][l.h]--; model[mk][l.h] == 0 {
				delete(model[mk], l.h)
			}
			if len(model[mk]) == 0 {
				delete(model, mk)
			}
			lives[i] = lives[len(lives)-1]
			lives = lives[:len(lives)-1]
			continue
		}
		g := Group(rng.IntN(2))
		name := fmt.Sprintf("name-%d", rng.IntN(2000))
		h := Sub(rng.IntN(50) + 1)
		lives = append(lives, live{g, name, h, tb.Join(g, []byte(name), h)})
		mk := mkey(g, name)
		if model[mk] == nil {
			model[mk] = map[Sub]int{}
		}
		model[mk][h]++
	}
	users, topics := 0, 0
	for i := 0; i < 2000; i++ {
		for g := Users; g <= Topics; g++ {
			name := fmt.Sprintf("name-%d", i)
			var want []Sub
			for h, n := range model[mkey(g, name)] {
				for range n {
					want = append(want, h)
				}
			}
			slices.Sort(want)
			if got := members(tb, g, name); !slices.Equal(got, want) {
				t.Fatalf("AppendMembers(%d, %q) = %v; want %v", g, name, got, want)
			}
			if len(want) > 0 && g == Users {
				users++
			} else if len(want) > 0 {
				topics++
			}
		}
	}
	if u, tp := tb.Counts(); u != users || tp != topics {
		t.Fatalf("Counts users, topics = %d, %d; want %d, %d", u, tp, users, topics)
	}
}

func TestArenaCompaction(t *testing.T) {
	t.Parallel()
	tb := New(1)
	s := &tb.shards[0]
	keep := tb.Join(Topics, []byte("keeper"), 1)
	for i := range 5000 {
		m := tb.Join(Users, fmt.Appendf(nil, "a-rather-long-user-name-%06d", i), Sub(i))
		tb.Leave(m)
	}
	if s.arena.size > 8192 {
		t.Fatalf("arena holds %d bytes after churn with one live name; want compaction to keep it small", s.arena.size)
	}
	if got := members(tb, Topics, "keeper"); !slices.Equal(got, []Sub{1}) {
		t.Fatalf("after compaction, keeper members = %v; want [1]", got)
	}
	tb.Leave(keep)
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	tb := New(8)
	const workers, perWorker = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var toks []Membership
			for i := range perWorker {
				h := Sub(w*perWorker + i + 1)
				toks = append(toks, tb.Join(Topics, []byte("shared"), h))
				toks = append(toks, tb.Join(Users, fmt.Appendf(nil, "u%d", i%50), h))
				_ = tb.AppendMembers(nil, Users, fmt.Appendf(nil, "u%d", i%50))
				tb.Counts()
			}
			// Leave the user memberships (odd tokens), keep the topic.
			for i := 1; i < len(toks); i += 2 {
				tb.Leave(toks[i])
			}
		}()
	}
	wg.Wait()
	if got := len(tb.AppendMembers(nil, Topics, []byte("shared"))); got != workers*perWorker {
		t.Fatalf("shared topic has %d members; want %d", got, workers*perWorker)
	}
	if u, tp := tb.Counts(); u != 0 || tp != 1 {
		t.Fatalf("Counts = %d, %d; want 0, 1", u, tp)
	}
}

func TestNoAllocs(t *testing.T) {
	tb := New(4)
	name := []byte("topic")
	keep := tb.Join(Topics, name, 1)
	var keys Keys
	keys.Set(1, 7, [2]uint64{1, 2})
	dst := make([]Sub, 0, 16)
	cases := []struct {
		what string
		fn   func()
	}{
		{"Join+Leave existing name", func() { tb.Leave(tb.Join(Topics, name, 2)) }},
		{"AppendMembers", func() { dst = tb.AppendMembers(dst[:0], Topics, name) }},
		{"HasMembers", func() { tb.HasMembers(Topics, name) }},
		{"Keys.Match", func() { keys.Match(1, 7, [2]uint64{1, 2}) }},
		{"Keys.Set+Clear", func() { keys.Set(1, 7, [2]uint64{1, 2}); keys.Clear(1) }},
		{"Counts", func() { tb.Counts() }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, c.fn); n != 0 {
			t.Errorf("%s: %v allocs/op; want 0", c.what, n)
		}
	}
	tb.Leave(keep)
}

func TestNewShards(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want int }{{0, 1}, {1, 1}, {3, 4}, {64, 64}, {100000, maxShards}} {
		if got := len(New(c.in).shards); got != c.want {
			t.Errorf("New(%d) has %d shards; want %d", c.in, got, c.want)
		}
	}
}

func TestAppendNameFollowsTheToken(t *testing.T) {
	tab := New(4)
	user := tab.Join(Users, []byte("alice"), 7)
	topic := tab.Join(Topics, []byte("news"), 7)
	for _, c := range []struct {
		m    Membership
		name string
		g    Group
	}{{user, "alice", Users}, {topic, "news", Topics}} {
		name, g, ok := tab.AppendName(nil, c.m)
		if !ok || string(name) != c.name || g != c.g {
			t.Errorf("AppendName(%#x) = %q, %v, %v; want %q, %v, true", c.m, name, g, ok, c.name, c.g)
		}
	}
	tab.Leave(user)
	if name, _, ok := tab.AppendName(nil, user); ok {
		t.Errorf("AppendName after Leave = %q, true; want false for a stale token", name)
	}
	if _, _, ok := tab.AppendName(nil, 0); ok {
		t.Error("AppendName(0) = ok; want false")
	}
}

func TestJoinFirstAndLeaveLastMarkTheEnds(t *testing.T) {
	tab := New(4)
	a, first := tab.JoinFirst(Topics, []byte("news"), 1)
	if !first {
		t.Fatal("JoinFirst of a new topic = false; want true")
	}
	b, first := tab.JoinFirst(Topics, []byte("news"), 2)
	if first {
		t.Fatal("second JoinFirst = true; want false")
	}
	if name, _, last := tab.LeaveLast(nil, a); last {
		t.Fatalf("LeaveLast with a member left = %q, true; want false", name)
	}
	name, g, last := tab.LeaveLast(nil, b)
	if !last || string(name) != "news" || g != Topics {
		t.Fatalf("LeaveLast of the last member = %q, %v, %v; want news, Topics, true", name, g, last)
	}
	if _, _, last := tab.LeaveLast(nil, b); last {
		t.Fatal("LeaveLast of a stale token = true; want false")
	}
	if _, first := tab.JoinFirst(Topics, []byte("news"), 3); !first {
		t.Fatal("JoinFirst after the group emptied = false; want true")
	}
}

// TestGroupStaysSmall guards what each user or topic costs beyond its name:
// a 16-byte record, its kind and length in the name's arena entry.
func TestGroupStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(group{}); size > 16 {
		t.Errorf("group is %d bytes; want at most 16", size)
	}
}

// TestNamesOfEveryLength puts a user and a topic of the same name in one
// shard for names whose arena entries take one, two and three bytes of
// length, and reads them back by name, by token and by prefix, before and
// after churn compacts the arena under them.
func TestNamesOfEveryLength(t *testing.T) {
	t.Parallel()
	tb := New(1)
	s := &tb.shards[0]
	lengths := []int{0, 1, 63, 64, 127, 128, 300, 8191, 8192, 70000}
	name := func(n int) []byte { return bytes.Repeat([]byte{'a' + byte(n%26)}, n) }
	type joined struct {
		g    Group
		name []byte
		m    Membership
	}
	var all []joined
	for i, n := range lengths {
		for g := Users; g <= Topics; g++ {
			all = append(all, joined{g, name(n), tb.Join(g, name(n), Sub(2*i+int(g)+1))})
		}
	}
	check := func(when string) {
		t.Helper()
		for i, j := range all {
			if got := members(tb, j.g, string(j.name)); !slices.Equal(got, []Sub{Sub(i + 1)}) {
				t.Fatalf("%s: AppendMembers(%d, %d bytes) = %v; want [%d]", when, j.g, len(j.name), got, i+1)
			}
			got, g, ok := tb.AppendName(nil, j.m)
			if !ok || g != j.g || !bytes.Equal(got, j.name) {
				t.Fatalf("%s: AppendName of the %d-byte %d = %d bytes, %d, %v; want %d bytes, %d, true", when, len(j.name), j.g, len(got), g, ok, len(j.name), j.g)
			}
			first, matched := tb.NamesWithPrefix(j.g, j.name, 100)
			if matched < 1 || first[0].Count != 1 {
				t.Fatalf("%s: NamesWithPrefix(%d, %d bytes) = %d names, %d matched; want the name with 1 member", when, j.g, len(j.name), len(first), matched)
			}
		}
		if u, tp := tb.Counts(); u != len(lengths) || tp != len(lengths) {
			t.Fatalf("%s: Counts = %d, %d; want %d, %d", when, u, tp, len(lengths), len(lengths))
		}
	}
	check("joined")
	churned := 0
	for i := range 8000 {
		a := fmt.Appendf(nil, "churn-%06d-of-a-rather-long-name", i)
		ma := tb.Join(Users, a, Sub(1000+i))
		mb := tb.Join(Topics, []byte("newest"), Sub(1000+i))
		tb.Leave(ma) // not the newest entry: its bytes die in place
		tb.Leave(mb)
		churned += len(a) + 1
	}
	if s.dead >= churned {
		t.Fatalf("dead bytes %d after %d churned: want compaction to have run", s.dead, churned)
	}
	check("after compaction")
}

// TestIndexWidens fills one shard past the 65,535 group records a 16-bit
// index slot can name, so the index turns 32 bits wide mid-way, and checks
// every name before and after half of them leave.
func TestIndexWidens(t *testing.T) {
	t.Parallel()
	tb := New(1)
	s := &tb.shards[0]
	const n = 70000
	toks := make([]Membership, n)
	name := func(i int) []byte { return fmt.Appendf(nil, "u%d", i) }
	for i := range n {
		if i == 60000 && s.index.wide != nil {
			t.Fatalf("index wide at %d groups; want 16-bit slots below 65,535", i)
		}
		toks[i] = tb.Join(Users, name(i), Sub(i+1))
	}
	if s.index.wide == nil || s.index.narrow != nil {
		t.Fatalf("index after %d groups: narrow %d slots, wide %d; want wide only", n, len(s.index.narrow), len(s.index.wide))
	}
	for i := 0; i < n; i += 2 {
		tb.Leave(toks[i])
	}
	for i := range n {
		want := 0
		if i%2 == 1 {
			want = 1
		}
		if got := tb.Count(Users, name(i)); got != want {
			t.Fatalf("Count(u%d) = %d; want %d", i, got, want)
		}
	}
	if u, _ := tb.Counts(); u != n/2 {
		t.Fatalf("Counts users = %d; want %d", u, n/2)
	}
}
