// Package conntable indexes the connections one pushwire node holds: conn key →
// handle, user name → handles, topic name → handles, plus a hashed timing wheel
// for per-connection timeouts.
//
// Both structures are built for a million live connections per process without
// making the garbage collector pay for them: every per-entry record lives in
// pointer-free slabs (chunked arrays of plain structs, linked by uint32 indexes),
// names live in a per-shard byte arena found through an open-addressing index of
// uint32s, and the key map is map[Key]Handle, whose buckets hold no pointers.
// The collector therefore scans a handful of chunk headers per shard, not one
// object per connection.
//
// # Where the bytes go
//
// Measured with BenchmarkEntries at 1M live connections, 64 shards, one user
// and one topic each (1000 topics):
//
//   - conn key: ~53 B. map[Key]Handle stores 24 B slots plus a control byte;
//     Go's swiss tables split at 7/8 load, and 2^20 keys over 64 shards sits
//     just past a split (~1/2 load). Across sizes it averages ~38 B, never
//     below ~29 B. A hand-rolled open-addressing table with 1.5× growth would
//     average ~32 B; not worth a second hash table yet.
//   - each membership: 24 B (handle, list links, group, generation).
//   - each distinct user: ~46 B more: the 24 B group record, its name in the
//     arena (~14 B with slack) and ~8 B of name index at 3/8–3/4 load.
//
// So a conn with its own user costs ~148 B and one sharing a user with three
// others ~114 B. The 64 B goal would need a key slot under 24 B (impossible
// while the table keeps the full 128-bit key it must verify) or memberships
// without a per-membership handle; the engine's own slot is not counted.
//
// # Lock order
//
// Table has one kind of lock: shard.mu, one per shard. A goroutine holds at most
// one shard.mu at a time; methods that visit every shard (Counts, AppendConns)
// take and release them one after another, so there is no order to respect and
// no deadlock to construct. No callback runs while a shard.mu is held.
//
// Wheel has no lock: it belongs to one engine loop and only that loop calls it.
package conntable
