// Package conntable indexes the subscribers one pushwire node holds: conn key →
// subscriber (Keys), user name → subscribers, topic name → subscribers (Table),
// plus a hashed timing wheel for per-connection timeouts. A subscriber (Sub,
// sub.go) is apart from the connection that carries it: an HTTP/1.x
// connection carries one, named by the connection's own handle; an HTTP/2
// connection carries one per stream.
//
// Both are built for a million live connections per process without making the
// garbage collector pay for them: every per-entry record lives in pointer-free
// slabs (chunked arrays of plain structs, linked by uint32 indexes), and names
// live in a per-shard arena of 1 KiB byte pages found through an
// open-addressing index of 16- or 32-bit slots. The collector scans a handful
// of chunk headers per shard, not one object per connection, and a connect
// storm copies no table: slabs and arena grow by whole pages.
//
// A conn key names its connection's slot and handle and carries 128 random
// bits, so Keys needs no hash map: one 16-byte record per slot, read and
// written with atomics so any goroutine can check a key while the owning loop
// replaces it.
//
// # Where the bytes go
//
// Measured with BenchmarkEntries at 1M live connections, 64 shards, one user
// and one topic each (1000 topics):
//
//   - conn key: 16 B in Keys (random bits, the first bound to the handle), in
//     256-slot pages.
//   - each membership: 24 B (handle, list links, group, generation).
//   - each distinct user: ~35 B more: the 16 B group record, its name in the
//     arena behind a one-byte kind and length (~15 B with slack) and ~4 B of
//     name index (16-bit slots up to 65,535 groups a shard) at 3/8–3/4 load.
//
// So a conn with its own user costs ~98 B and one sharing a user with three
// others ~73 B (go test -run '^$' -bench Entries -benchtime 1x ./conntable).
// Reaching 64 B would need memberships without a per-membership handle; the
// engine's own slot is not counted.
//
// # Lock order
//
// Table has one kind of lock: shard.mu, one per shard. A goroutine holds at most
// one shard.mu at a time; methods that visit every shard (Counts)
// take and release them one after another, so there is no order to respect and
// no deadlock to construct. No callback runs while a shard.mu is held.
//
// Wheel has no lock: it belongs to one engine loop and only that loop calls it.
package conntable
