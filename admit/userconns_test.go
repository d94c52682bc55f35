package admit

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/pushwire/pushwire/cluster/redistest"
)

// userConnsImpls returns both UserConns, the Redis one on a real redis-server.
func userConnsImpls(t *testing.T) map[string]UserConns {
	conn := newConn(t, redistest.StartServer(t).URL())
	return map[string]UserConns{"memory": NewUserConnsMemory(), "redis": NewUserConnsRedis(conn, "")}
}

// TestUserConnsPolicy: under refuse the (max+1)th key is refused with the held keys named;
// under oldest-out the oldest go, by start time not by arrival; a repeated key is no change;
// Leave makes room; keys of nodes not live are dropped first (Redis: the memory one is alone).
func TestUserConnsPolicy(t *testing.T) {
	ctx := context.Background()
	live := []string{"a", "b"}
	for name, u := range userConnsImpls(t) {
		t.Run(name, func(t *testing.T) {
			admit := func(user, key string, at int64, max int, refuse bool) Admission {
				t.Helper()
				a, err := u.Admit(ctx, user, key, at, max, refuse, live)
				if err != nil {
					t.Fatalf("Admit(%s, %s) = %v", user, key, err)
				}
				return a
			}
			want := func(got, want Admission, what string) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %+v; want %+v", what, got, want)
				}
			}
			none := Admission{Evicted: []string{}}
			norm := func(a Admission) Admission { // nil and empty lists read the same
				if !a.Refused && len(a.Evicted) == 0 {
					return none
				}
				return a
			}
			want(norm(admit("r", "k1.a", 10, 2, true)), none, "refuse: first")
			want(norm(admit("r", "k2.b", 20, 2, true)), none, "refuse: second")
			want(norm(admit("r", "k2.b", 20, 2, true)), none, "refuse: second again")
			want(admit("r", "k3.a", 30, 2, true), Admission{Refused: true, Held: []string{"k1.a", "k2.b"}}, "refuse: third")
			if err := u.Leave(ctx, "r", "k1.a"); err != nil {
				t.Fatal(err)
			}
			want(norm(admit("r", "k3.a", 30, 2, true)), none, "refuse: third after a leave")

			want(norm(admit("o", "k2.a", 20, 2, false)), none, "oldest-out: first")
			want(norm(admit("o", "k1.b", 10, 2, false)), none, "oldest-out: an older second")
			want(admit("o", "k3.a", 30, 2, false), Admission{Evicted: []string{"k1.b"}}, "oldest-out: third")
			want(admit("o", "k4.b", 40, 1, false), Admission{Evicted: []string{"k2.a", "k3.a"}}, "oldest-out: max lowered to 1")
		})
	}
	t.Run("redis drops dead nodes' keys", func(t *testing.T) {
		u := userConnsImpls(t)["redis"]
		if _, err := u.Admit(ctx, "d", "k1.gone", 10, 1, true, live); err != nil {
			t.Fatal(err)
		}
		a, err := u.Admit(ctx, "d", "k2.a", 20, 1, true, live)
		if err != nil || a.Refused {
			t.Errorf("Admit beside a dead node's key = %+v, %v; want entered", a, err)
		}
	})
}

// TestUserConnsReenter: keys entered again take their place by start time beside those held,
// refusing and evicting nothing even past max; a key already held keeps its start; the next
// oldest-out admission evicts the oldest, an entered-again one first when it began first.
func TestUserConnsReenter(t *testing.T) {
	ctx := context.Background()
	live := []string{"a", "b"}
	for name, u := range userConnsImpls(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := u.Admit(ctx, "r", "k2.a", 20, 1, false, live); err != nil {
				t.Fatal(err)
			}
			if err := u.Reenter(ctx, []HeldKey{{User: "r", Key: "k1.b", AtMs: 10}, {User: "r", Key: "k2.a", AtMs: 5}, {User: "s", Key: "k9.b", AtMs: 1}}); err != nil {
				t.Fatalf("Reenter = %v", err)
			}
			a, err := u.Admit(ctx, "r", "k3.a", 30, 2, false, live)
			if err != nil || !reflect.DeepEqual(a.Evicted, []string{"k1.b"}) {
				t.Errorf("Admit after Reenter (2 held, max 2) = %+v, %v; want k1.b evicted (began at 10, k2.a at 20 kept its start)", a, err)
			}
			a, err = u.Admit(ctx, "s", "k8.a", 30, 1, true, live)
			if err != nil || !a.Refused || !reflect.DeepEqual(a.Held, []string{"k9.b"}) {
				t.Errorf("Admit of another user entered again (max 1, refuse) = %+v, %v; want refused for k9.b", a, err)
			}
		})
	}
}

// TestUserConnsRace: 8 goroutines admit 40 keys of one user at once under refuse with max 3:
// exactly 3 are entered, in Redis and in memory alike.
func TestUserConnsRace(t *testing.T) {
	for name, u := range userConnsImpls(t) {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			entered := 0
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 5 {
						a, err := u.Admit(context.Background(), "race", fmt.Sprintf("k%d-%d.a", g, i), int64(i), 3, true, []string{"a"})
						if err != nil {
							t.Error(err)
							return
						}
						if !a.Refused {
							mu.Lock()
							entered++
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			if entered != 3 {
				t.Errorf("%d keys entered under refuse, max 3; want 3", entered)
			}
		})
	}
}

// BenchmarkUserConnsAdmit: what the policy adds to a stream start of a user: one Admit and
// one Leave, in memory and through one script on a real redis-server over loopback (users
// with 0-2 other streams, max 3, oldest-out).
func BenchmarkUserConnsAdmit(b *testing.B) {
	conn := newConn(b, redistest.StartServer(b).URL())
	for _, impl := range []struct {
		name string
		u    UserConns
	}{{"memory", NewUserConnsMemory()}, {"redis", NewUserConnsRedis(conn, "")}} {
		b.Run(impl.name, func(b *testing.B) {
			ctx := context.Background()
			live := []string{"a", "b", "c"}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				user, key := "u"+strconv.Itoa(i%1000), "k"+strconv.Itoa(i)+".a"
				if _, err := impl.u.Admit(ctx, user, key, int64(i), 3, false, live); err != nil {
					b.Fatal(err)
				}
				if i%3 == 0 {
					if err := impl.u.Leave(ctx, user, key); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
