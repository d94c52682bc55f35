// Package admit decides, for the whole cluster, whether a request goes ahead: an
// Idempotency-Key's claim lets a publish run once and hands its retries the first answer
// (SPEC §4), and a user's conn keys let a stream start within --max-conns-per-user, refusing
// it or naming the oldest streams to kick (SPEC §7). Each is an interface with two
// implementations chosen once at start: in memory for a standalone node, and in Redis, over
// the node's shared redisconn.Conn, for a cluster, where one Redis call orders two nodes
// admitting at once.
//
// # API
//
//	type Idempotency interface { Claim(ctx, keys, out []Claim); Record(ctx, keys, answers) } // idempotency.go
//	NewIdemRedis(*redisconn.Conn, IdemOptions) *IdemRedis     // pw:i:{<key>}, pipelined SETs (idempotency.go)
//	NewIdemMemory(IdemOptions) *IdemMemory                     // a bounded map, oldest out (idemmem.go)
//	type UserConns interface { Admit(ctx, user, key, atMs, max, refuse, live) (Admission, error); Leave }
//	NewUserConnsRedis(*redisconn.Conn, prefix) *UserConnsRedis // pw:uc:<user>, one Lua script (userconns.go)
//	NewUserConnsMemory() *UserConnsMemory
//
// A Redis out of reach comes back as an error wrapping cluster.ErrDirectoryDown, within the
// connection's OpTimeout; a failed Claim claimed nothing. The keys' layout is in package
// cluster's data model (cluster/doc.go), beside the directory's.
//
// # Locks
//
// IdemMemory.mu and UserConnsMemory.mu each guard their own fields, are held only across map
// and slice work, and never together: there is no lock order to keep.
package admit
