package cluster

import (
	"testing"
)

// BenchmarkDirectoryStartTakeover: what the directory's Start adds to an upgrade's pause in
// the new process (it runs before the new process says ready, while the old one is frozen),
// with 100k users of the node already in Redis under its id. resync is Start as every
// takeover ran it before review 7's finding 9 (SSCAN of the node's sets, every name re-added);
// takeover is Start with RedisOptions.Takeover (the heartbeat only; the re-sync runs once the
// new process serves).
//
//	go test -run '^$' -bench DirectoryStartTakeover -benchtime 5x -count 3 ./cluster
func BenchmarkDirectoryStartTakeover(b *testing.B) {
	r := startRedis(b)
	const users = 100000
	old := takeoverDir(b, r, false, users)
	if err := old.Start(bg); err != nil {
		b.Fatal(err)
	}
	old.crash()
	for _, bc := range []struct {
		name     string
		takeover bool
	}{{"resync", false}, {"takeover", true}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				d := takeoverDir(b, r, bc.takeover, users)
				b.StartTimer()
				if err := d.Start(bg); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				d.crash() // leaves the entries for the next one, as a handoff does
				b.StartTimer()
			}
			b.ReportMetric(users, "users")
		})
	}
}
