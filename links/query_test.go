package links

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pushwire/pushwire/cluster"
)

func TestQueryFrameRoundTrip(t *testing.T) {
	queries := []Query{
		{Op: QueryUser, Name: "42"},
		{Op: QueryTopic, Name: "news.eu"},
		{Op: QueryTopics, Name: "", Limit: 7},
		{Op: QueryTopics, Name: "a", Limit: MaxQueryLimit},
		{Op: QuerySubscribe, Name: "42", Topics: []string{"news", "chat.7"}},
		{Op: QueryUnsubscribe, Name: "AAAA.b", Conn: true, Force: true, Topics: []string{"x"}},
		{Op: QueryKick, Name: "AAAA.b", Conn: true},
		{Op: QueryHolds, Name: "AAAA.b", Conn: true},
	}
	for i, q := range queries {
		frame := appendQuery(nil, uint64(i+5), &q)
		if len(frame) > querySize(&q) {
			t.Errorf("query %+v: %d bytes encoded; querySize says at most %d", q, len(frame), querySize(&q))
		}
		if frame[4] != typeQuery {
			t.Errorf("query frame type = %d; want %d", frame[4], typeQuery)
		}
		corr, got, err := decodeQuery(frame[frameHeader:])
		if err != nil || corr != uint64(i+5) || !reflect.DeepEqual(got, q) {
			t.Errorf("decodeQuery(appendQuery(%+v)) = %d %+v, %v; want %d, the same query", q, corr, got, err, i+5)
		}
	}
	answers := []QueryAnswer{
		{Count: 3},
		{Err: "presence queries are not served here"},
		{Count: 1500, Topics: []NameCount{{"a", 1}, {"ab", 0}, {"b.c", 1 << 20}}},
	}
	for i, a := range answers {
		frame := appendQueryAnswer(nil, uint64(i), &a)
		corr, got, err := decodeQueryAnswer(frame[frameHeader:])
		if err != nil || corr != uint64(i) || !reflect.DeepEqual(got, a) {
			t.Errorf("decodeQueryAnswer(appendQueryAnswer(%+v)) = %d %+v, %v; want %d, the same answer", a, corr, got, err, i)
		}
	}
}

func TestQueryDecodeRejects(t *testing.T) {
	good := appendQuery(nil, 1, &Query{Op: QueryTopics, Name: "x", Limit: 5})[frameHeader:]
	for n := 0; n < 10; n++ {
		if _, _, err := decodeQuery(good[:n]); err == nil {
			t.Errorf("decodeQuery(%d bytes) = nil error; want errBadFrame", n)
		}
	}
	for _, op := range []byte{0, 8, 255} {
		bad := bytes.Clone(good)
		bad[8] = op
		if _, _, err := decodeQuery(bad); err == nil {
			t.Errorf("decodeQuery(op %d) = nil error; want errBadFrame", op)
		}
	}
	huge := appendQuery(nil, 1, &Query{Op: QueryTopics, Limit: 1 << 40})[frameHeader:]
	if _, q, err := decodeQuery(huge); err != nil || q.Limit != MaxQueryLimit {
		t.Errorf("decodeQuery(limit 2^40) = %+v, %v; want the limit clamped to %d", q, err, MaxQueryLimit)
	}
	ans := appendQueryAnswer(nil, 1, &QueryAnswer{Count: 2, Topics: []NameCount{{"topic", 2}}})[frameHeader:]
	for n := 0; n < len(ans); n++ {
		if n == 10 { // corr, count and an empty error: a whole answer without topics
			continue
		}
		if _, _, err := decodeQueryAnswer(ans[:n]); err == nil {
			t.Errorf("decodeQueryAnswer(%d of %d bytes) = nil error; want errBadFrame", n, len(ans))
		}
	}
}

// FuzzQueryFrames feeds arbitrary bodies to both new decoders: they must not panic, and what
// they accept must encode back to a frame that decodes to the same value.
func FuzzQueryFrames(f *testing.F) {
	f.Add(appendQuery(nil, 1, &Query{Op: QueryUser, Name: "42"})[frameHeader:])
	f.Add(appendQuery(nil, 2, &Query{Op: QueryTopics, Name: "news.", Limit: 100})[frameHeader:])
	f.Add(appendQuery(nil, 5, &Query{Op: QuerySubscribe, Name: "42", Force: true, Topics: []string{"a", "b"}})[frameHeader:])
	f.Add(appendQuery(nil, 6, &Query{Op: QueryKick, Name: "k.n", Conn: true})[frameHeader:])
	f.Add(appendQueryAnswer(nil, 3, &QueryAnswer{Count: 2, Topics: []NameCount{{"a", 1}, {"b", 1}}})[frameHeader:])
	f.Add(appendQueryAnswer(nil, 4, &QueryAnswer{Err: "no"})[frameHeader:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		if corr, q, err := decodeQuery(body); err == nil {
			again := appendQuery(nil, corr, &q)
			if c2, q2, err := decodeQuery(again[frameHeader:]); err != nil || c2 != corr || !reflect.DeepEqual(q2, q) {
				t.Fatalf("query %+v does not survive a round trip: %+v, %v", q, q2, err)
			}
		}
		if corr, a, err := decodeQueryAnswer(body); err == nil {
			again := appendQueryAnswer(nil, corr, &a)
			if c2, a2, err := decodeQueryAnswer(again[frameHeader:]); err != nil || c2 != corr || !reflect.DeepEqual(a2, a) {
				t.Fatalf("answer %+v does not survive a round trip: %+v, %v", a, a2, err)
			}
		}
	})
}

// startQueryNode is startNode with a query handler.
func startQueryNode(t *testing.T, store *cluster.MemStore, id string, h Handler, qh QueryHandler) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewLinkServer(h, LinkServerOptions{Logger: quiet, Query: qh})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cluster.NewMemDirectory(store, cluster.Node{ID: id, Addr: ln.Addr().String()}, nil).Start(bg)
}

// TestLinkQueriesBetweenPushes sends queries and pushes on one link at once, over a real
// socket: each gets its own answer, in order, and pushes are unaffected.
func TestLinkQueriesBetweenPushes(t *testing.T) {
	store := cluster.NewMemStore()
	var rec recorder
	startQueryNode(t, store, "b", rec.handle, func(q *Query) QueryAnswer {
		if q.Op == QueryTopics {
			return QueryAnswer{Count: 2, Topics: []NameCount{{q.Name + "1", 1}, {q.Name + "2", q.Limit}}}
		}
		n, _ := strconv.Atoi(q.Name)
		return QueryAnswer{Count: n}
	})
	a := newLinks(t, store, "a", LinkOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				switch i % 3 {
				case 0:
					n := g*1000 + i
					got, err := a.Query(bg, "b", &Query{Op: QueryUser, Name: strconv.Itoa(n)})
					if err != nil || got.Count != n {
						errs <- errors.New("user query " + strconv.Itoa(n) + " answered " + strconv.Itoa(got.Count))
					}
				case 1:
					got, err := a.Query(bg, "b", &Query{Op: QueryTopics, Name: "t" + strconv.Itoa(i), Limit: i})
					want := QueryAnswer{Count: 2, Topics: []NameCount{{"t" + strconv.Itoa(i) + "1", 1}, {"t" + strconv.Itoa(i) + "2", i}}}
					if err != nil || !reflect.DeepEqual(got, want) {
						errs <- errors.New("topics query answered wrong")
					}
				default:
					r, err := a.Forward(bg, "b", &Push{ID: "m", To: "user:1", Data: []byte("xyz")})
					if err != nil || r.Delivered != 3 {
						errs <- errors.New("push between queries answered wrong")
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLinkQueryUnansweredIsBounded: a peer that accepts the link and never answers (a stopped
// process) costs a query its context's deadline, and a server without a query handler (a node
// that does not serve them) answers with an error, its link still carrying pushes.
func TestLinkQueryUnansweredIsBounded(t *testing.T) {
	store := cluster.NewMemStore()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and reads, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	cluster.NewMemDirectory(store, cluster.Node{ID: "mute", Addr: ln.Addr().String()}, nil).Start(bg)
	var rec recorder
	startNode(t, store, "old", rec.handle)
	a := newLinks(t, store, "a", LinkOptions{})

	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel()
	if got, err := a.Query(ctx, "mute", &Query{Op: QueryUser, Name: "1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Query to a peer that never answers = %+v, %v; want context.DeadlineExceeded", got, err)
	}
	got, err := a.Query(bg, "old", &Query{Op: QueryTopic, Name: "x"})
	if err != nil || got.Err == "" {
		t.Errorf("Query to a server without a query handler = %+v, %v; want an answer with Err set", got, err)
	}
	if r, err := a.Forward(bg, "old", &Push{ID: "m", To: "user:1", Data: []byte("xy")}); err != nil || r.Delivered != 2 {
		t.Errorf("push after that query = %+v, %v; want Delivered 2 on the same link", r, err)
	}
}

// TestChangeQueryDecodeRejects: a changing query with unknown flag bits, a cut name or topic,
// or more than MaxChangeTopics topics is a bad frame, never a partial query.
func TestChangeQueryDecodeRejects(t *testing.T) {
	good := appendQuery(nil, 1, &Query{Op: QuerySubscribe, Name: "42", Topics: []string{"news"}})[frameHeader:]
	for n := 10; n < len(good); n++ {
		if n == 14 { // corr, op, limit, flags and the name, no topic: a whole query
			continue
		}
		if _, _, err := decodeQuery(good[:n]); err == nil {
			t.Errorf("decodeQuery(%d of %d bytes) = nil error; want errBadFrame", n, len(good))
		}
	}
	bad := bytes.Clone(good)
	bad[10] |= 4
	if _, _, err := decodeQuery(bad); err == nil {
		t.Errorf("decodeQuery(flag bit 2) = nil error; want errBadFrame")
	}
	many := make([]string, MaxChangeTopics+1)
	for i := range many {
		many[i] = "t" + strconv.Itoa(i)
	}
	over := appendQuery(nil, 1, &Query{Op: QueryUnsubscribe, Name: "42", Topics: many})[frameHeader:]
	if _, _, err := decodeQuery(over); err == nil {
		t.Errorf("decodeQuery(%d topics) = nil error; want errBadFrame", len(many))
	}
	if _, q, err := decodeQuery(appendQuery(nil, 1, &Query{Op: QueryUnsubscribe, Name: "42", Topics: many[:MaxChangeTopics]})[frameHeader:]); err != nil || len(q.Topics) != MaxChangeTopics {
		t.Errorf("decodeQuery(%d topics) = %d topics, %v; want all of them", MaxChangeTopics, len(q.Topics), err)
	}
}
