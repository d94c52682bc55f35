package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/push"
	"github.com/pushwire/pushwire/store"
)

// testMsg is a store.Message that counts its references.
type testMsg struct {
	m    push.Message
	refs int
}

func (t *testMsg) Push() *push.Message { return &t.m }
func (t *testMsg) Retain()             { t.refs++ }
func (t *testMsg) Release()            { t.refs-- }

// recordFan is a Fanout that records what it was asked to deliver.
type recordFan struct {
	to  []conntable.Sub
	all int
}

func (f *recordFan) Deliver(m *testMsg, targets []conntable.Sub) int {
	f.to = append(f.to, targets...)
	return len(targets)
}

func (f *recordFan) DeliverAll(m *testMsg) int { f.all++; return 7 }

// newTestResolver makes a resolver whose table is returned, with one conn
// key (handle 42) on this node, and a router "a" that takes peers' pushes
// through it, recording the messages it builds in made.
func newTestResolver(t *testing.T, made *[]*testMsg) (*Resolver[*testMsg], *Router[*testMsg], *conntable.Table) {
	t.Helper()
	table := conntable.New(4)
	key := push.ConnKey{Handle: 42, Random: [2]uint64{1, 2}}
	r := NewResolver(ResolverOptions[*testMsg]{
		Table: table, Recent: store.NewRecent[*testMsg](0, 2, 0),
		Lookup: func(k push.ConnKey) (conntable.Sub, bool) { return conntable.Sub(k.Handle), k == key },
	})
	router := New(Options[*testMsg]{Self: "a", Resolver: r, FromPeer: func(seq uint64, p *links.Push) *testMsg {
		m := &testMsg{refs: 1}
		m.m.Seq, m.m.To = seq, []byte(p.To)
		*made = append(*made, m)
		return m
	}})
	t.Cleanup(router.Close)
	return r, router, table
}

func TestTakeResolvesAndFansOut(t *testing.T) {
	var made []*testMsg
	_, router, table := newTestResolver(t, &made)
	subs := []conntable.Sub{conntable.StreamSub(0, 3, 1), conntable.StreamSub(1, 4, 1)} // in order
	for _, s := range subs {
		table.Join(conntable.Topics, []byte("news"), s)
	}
	key := push.AppendConnKey(nil, push.ConnKey{Handle: 42, Random: [2]uint64{1, 2}}, "a")
	other := push.AppendConnKey(nil, push.ConnKey{Handle: 42, Random: [2]uint64{1, 2}}, "b")
	for _, tc := range []struct {
		name string
		p    links.Push
		want links.Result
		to   []conntable.Sub
		all  int
	}{
		{"topic, kind sent", links.Push{ID: "9", To: "topic:news", Kind: uint8(push.Topic) + 1}, links.Result{Delivered: 2}, subs, 0},
		{"topic, kind parsed", links.Push{ID: "9", To: "topic:news"}, links.Result{Delivered: 2}, subs, 0},
		{"user without members", links.Push{ID: "9", To: "user:u1", Kind: uint8(push.User) + 1}, links.Result{}, nil, 0},
		{"this node's key", links.Push{ID: "9", To: "conn:" + string(key)}, links.Result{Delivered: 1}, []conntable.Sub{42}, 0},
		{"all", links.Push{ID: "9", To: "all", Kind: uint8(push.All) + 1}, links.Result{Delivered: 7}, nil, 1},
		{"another node's key", links.Push{ID: "9", To: "conn:" + string(other)}, links.Result{Err: "conn key is not held by this node"}, nil, 0},
		{"bad id", links.Push{ID: "x", To: "topic:news"}, links.Result{Err: "bad message id"}, nil, 0},
		{"bad address", links.Push{ID: "9", To: "room:1"}, links.Result{Err: "bad address"}, nil, 0},
	} {
		made = made[:0]
		f := &recordFan{}
		if got := router.Take(&tc.p, f); got != tc.want {
			t.Errorf("%s: Take = %+v; want %+v", tc.name, got, tc.want)
		}
		slices.Sort(f.to) // the table keeps no order among members
		if !slices.Equal(f.to, tc.to) || f.all != tc.all {
			t.Errorf("%s: delivered to %v, all %d times; want %v, %d", tc.name, f.to, f.all, tc.to, tc.all)
		}
		kept := 0 // Take releases its reference; the topic history keeps one
		if strings.HasPrefix(tc.p.To, "topic:") {
			kept = 1
		}
		for _, m := range made {
			if m.m.Seq != 9 || m.refs != kept {
				t.Errorf("%s: message id %d, %d references left; want 9, %d", tc.name, m.m.Seq, m.refs, kept)
			}
		}
	}
}

func TestFanKeepsTopicHistory(t *testing.T) {
	var made []*testMsg
	r, _, _ := newTestResolver(t, &made)
	m := &testMsg{refs: 1}
	_, n, kept := r.Fan(&recordFan{}, nil, push.Topic, []byte("news"), push.ConnKey{}, m)
	if n != 0 || !kept || m.refs != 2 {
		t.Errorf("Fan to a topic without members = %d, kept %v, refs %d; want 0, true, 2 (one kept by the history)", n, kept, m.refs)
	}
	for i := range 3 {
		msgs := &testMsg{refs: 1}
		msgs.m.Seq = uint64(i + 1)
		r.Fan(&recordFan{}, nil, push.Topic, []byte("news"), push.ConnKey{}, msgs)
	}
	if got := r.o.Recent.AppendSince(nil, conntable.Topics, []byte("news"), 0); len(got) != 2 || got[1].m.Seq != 3 {
		t.Errorf("history after 4 pushes = %d messages; want the last 2 (history 2)", len(got))
	}
}
