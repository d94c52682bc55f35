package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// infoField reads one numeric field of INFO's section (commandstats' usec=, stats').
func infoField(tb testing.TB, c rueidis.Client, section, line, field string) float64 {
	tb.Helper()
	info, err := c.Do(bg, c.B().Info().Section(section).Build()).ToString()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(l, line); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, field); ok {
					f, _ := strconv.ParseFloat(v, 64)
					return f
				}
			}
		}
	}
	return 0
}

// BenchmarkJanitorUserConns: the janitor collecting a dead node of 20,000 users, each with a
// key of the dead node and one of a live node in its per-user set, the per-user policy on
// (userconns) and off (nopolicy). ns/op is the whole collection; redis-us/user the Redis time
// of the scripts (EVAL and EVALSHA, INFO commandstats); in-B/user what Redis read from the
// janitor, per user (INFO stats total_net_input_bytes). Before review 7's finding 11 the
// script's body went with every call (EVAL) and ran with the policy off too.
//
//	go test -run '^$' -bench JanitorUserConns -benchtime 3x ./cluster
func BenchmarkJanitorUserConns(b *testing.B) {
	const users = 20000
	for _, on := range []bool{true, false} {
		name := "userconns"
		if !on {
			name = "nopolicy"
		}
		b.Run(name, func(b *testing.B) {
			r := startRedis(b)
			raw := r.raw()
			j := newTestDir(b, r, "j", time.Hour)
			j.o.UserConns = on
			var us, in float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cmds := rueidis.Commands{raw.B().Sadd().Key("pw:nodes").Member("x").Build()}
				for u := range users {
					user := fmt.Sprint("u", u)
					cmds = append(cmds,
						raw.B().Sadd().Key("pw:n:{x}:u").Member(user).Build(),
						raw.B().Sadd().Key(keyUser("pw:", user)).Member("x").Build(),
						raw.B().Zadd().Key(KeyUserConns("pw:", user)).ScoreMember().ScoreMember(1, fmt.Sprintf("r%d.x", u)).ScoreMember(2, fmt.Sprintf("s%d.b", u)).Build())
				}
				for _, res := range raw.DoMulti(bg, cmds...) {
					if err := res.Error(); err != nil {
						b.Fatal(err)
					}
				}
				if err := raw.Do(bg, raw.B().ConfigResetstat().Build()).Error(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				j.collect()
				b.StopTimer()
				us += infoField(b, raw, "commandstats", "cmdstat_eval:", "usec=") + infoField(b, raw, "commandstats", "cmdstat_evalsha:", "usec=")
				in += infoField(b, raw, "stats", "total_net_input_bytes:", "")
				b.StartTimer()
			}
			b.ReportMetric(us/float64(b.N*users), "redis-us/user")
			b.ReportMetric(in/float64(b.N*users), "in-B/user")
		})
	}
}
