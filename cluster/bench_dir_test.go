package cluster

import "testing"

// BenchmarkDirectoryCached: hot lookups served from rueidis' client-side cache; roundtrips/op
// is Redis requests per lookup after the first.
//
//	go test -run '^$' -bench Directory -benchtime 200000x ./cluster
func BenchmarkDirectoryCached(b *testing.B) {
	r := startRedis(b)
	a := newTestDir(b, r, "a", 0)
	o := newTestDir(b, r, "b", 0)
	o.AddUser("hot")
	if err := o.Flush(bg); err != nil {
		b.Fatal(err)
	}
	b.Run("UserNodes", func(b *testing.B) {
		a.UserNodes(bg, "hot")
		before := a.Stats()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if ns, err := a.UserNodes(bg, "hot"); len(ns) != 1 || err != nil {
				b.Fatal(ns, err)
			}
		}
		b.ReportMetric(float64(a.Stats().RoundTrips-before.RoundTrips)/float64(b.N), "roundtrips/op")
	})
}
