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
// # Lock order
//
// Table has one kind of lock: shard.mu, one per shard. A goroutine holds at most
// one shard.mu at a time; methods that visit every shard (Counts, AppendConns)
// take and release them one after another, so there is no order to respect and
// no deadlock to construct. No callback runs while a shard.mu is held.
//
// Wheel has no lock: it belongs to one engine loop and only that loop calls it.
package conntable
