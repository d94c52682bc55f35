// Package cluster lets pushwire nodes find each other's connections: a Directory (which nodes
// hold a user or a topic; where each node listens, and whether it lives), kept in Redis for a
// cluster or in memory for a standalone node. The Redis client a node's other shared state
// uses, and the --redis URL forms, are package cluster/redisconn. The node-to-node links that
// carry pushes and queries are package links, which asks the Directory where a peer listens.
//
// # API
//
//	type Directory interface { Start, Close, Flush, NodeAddr, Nodes,
//	    AddUser/RemoveUser, AddTopic/RemoveTopic, UserNodes, TopicNodes, Stats } // directory.go
//	NewMemStore() *MemStore; NewMemDirectory(*MemStore, Node, Holdings) // no Redis (memdir.go)
//	(*MemDirectory).Alone() bool // no other node in the store: every target is local
//	NewRedisDirectory(RedisOptions) (*RedisDirectory, error)  // cluster (redis*.go)
//	(*RedisDirectory).Recheck()  // run the re-sync hooks at the next tick (recheck.go)
//	redistest.Start(testing.TB) *redistest.Cluster             // tests: a real 3-master Redis Cluster
//	redistest.StartWithReplicas(testing.TB) *redistest.Cluster // the same, a replica per master (KillMaster, AwaitFailover)
//	redistest.StartSentinel(testing.TB, n) *redistest.Sentinel // a primary, a replica, n sentinels (KillPrimary, AwaitFailover)
//	type Observer = redisconn.Observer                         // /metrics (directory.go)
//
// A node that took a publish looks the target up (UserNodes/TopicNodes, or Nodes for "all"; a
// conn key names the node that holds it, and NodeAddr says whether that node lives), delivers
// locally itself, and forwards to every other node over package links.
//
// # Redis data model
//
// Keys (prefix "pw:" by default, RedisOptions.Prefix):
//
//	pw:nodes          SET     ids of registered nodes (alive or not yet collected)
//	pw:n:{id}         STRING  the node's link address; PX = --node-ttl, refreshed every TTL/3:
//	                          the heartbeat. Its absence means the node is dead.
//	pw:n:{id}:u       SET     users with conns on node id  ┐ the node's own view, used to re-assert
//	pw:n:{id}:t       SET     topics subscribed on node id ┘ and to collect its entries after it dies
//	pw:n:{id}:gc      STRING  janitor lock (SET NX PX 30s) while a live node collects dead id
//	pw:n:{id}:cut     STRING  left by a janitor after each page it removed; id's next heartbeat
//	                          takes it (GETDEL) and re-syncs, in case id came back meanwhile
//	pw:u:<user>       SET     node ids holding connections of <user>
//	pw:t:<topic>      SET     node ids holding subscribers of <topic>
//	pw:q:<user>       ZSET    the user's QoS 1 mailbox (package store, store/redis.go)
//	pw:i:{<key>}      STRING  an Idempotency-Key: "p<node>:<n>" while its publish runs (PX hold,
//	                          10s), then "<status> <JSON answer>" (PX --idempotency-window;
//	                          package admit, admit/idempotency.go)
//	pw:uc:<user>      ZSET    the conn keys of the user's streams scored by start (unix ms), for
//	                          --max-conns-per-user (admit/userconns.go); changed by one script
//
// Redis Cluster: every command names one key, so slots never matter; the {id} hash tag keeps a
// node's own keys in one slot only so that they live and move together. Pipelines (DoMulti,
// DoMultiCache) are split per slot owner by rueidis and the QoS script names one key, so nothing
// can fail with CROSSSLOT. --redis names a cluster (redisconn/url.go) by its masters, comma
// separated,
//
//	redis://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000
//
// or by rueidis's own spelling redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000, or by
// any one node: rueidis asks the first seed that answers for the slot map and talks to every
// master itself (redisconn/url.go also lists the Sentinel forms,
// redis-sentinel://s1,s2,s3/mymaster, and the opt-in ?wait_replicas=N of QoS 1 writes; README
// "Redis high availability" says what a failover keeps). One address may be a plain Redis (rueidis falls back when the server is not in
// cluster mode); several addresses must be a cluster, and a cluster has only database 0. More
// than one seed lets a node start while one of them is down. Proved on a real 3-master cluster
// that the tests start (package redistest): entries land on the master that owns each key,
// cached reads cost no round trip and are invalidated from every shard, batches of 20,000
// commands across all slots, dead-node collection (rediscluster_test.go), the QoS mailbox (store/rediscluster_test.go), and
// three pushwire processes pushing across it (acceptance/cluster/rediscluster_test.go).
//
// Dead nodes: readers never return a node whose heartbeat key is gone (UserNodes, TopicNodes
// and Nodes filter by it; NodeAddr answers ErrUnknownNode), so a dead node's entries
// stop counting within --node-ttl. A live node's janitor (every node TTL) then deletes them,
// using the dead node's own sets. A restarted node id first deletes what its previous
// incarnation left (resync against an empty mirror).
//
// # Reads: client-side caching
//
// Every read is a rueidis DoCache/DoMultiCache (RESP3 CLIENT TRACKING, server-assisted
// invalidation), so a hot push costs no round trip: Stats().RoundTrips stays flat while
// CacheHits grows (TestRedisCacheHitsAndInvalidation, BenchmarkDirectoryCached). rueidis caps
// each entry's life at the key's server PTTL, so a cached heartbeat expires with the key itself.
// A heartbeat write invalidates readers' copy of that node key, costing each reader about one
// round trip per node per TTL/3.
//
// Reconnects: rueidis keeps one cache per connection. When a connection breaks (EOF, reset,
// or PING timeout: ConnWriteTimeout 2s, KeepAlive 1s), pipe._exit calls cache.Close, which drops
// every entry, and the replacement connection starts with an empty cache and fresh tracking.
// So nothing cached before a reconnect is ever served after it; TestRedisRestart proves it with a
// key rewritten behind our back on the restarted (empty) Redis, where no invalidation could
// ever arrive. Until rueidis reads the EOF (microseconds on loopback) a cached answer is still
// served; it was valid when Redis died. A read that hits a connection found broken is retried
// once at once (on the new connection), else it fails with ErrDirectoryDown within OpTimeout.
//
// # Writes: batched, then re-asserted
//
// Add*/Remove* update an in-memory mirror of this node's entries and queue an op; one
// background goroutine sends queued ops as DoMulti pipelines of up to BatchCommands commands
// (15,000 topics + 15,000 users = 60,000 commands in 16 round trips, ~0.2 s; TestRedisBatchedRegistrations).
// A failed pipeline, a heartbeat that fails (refused, connection broken), or a heartbeat SET ... XX
// GET that finds our key missing (Redis restarted empty, failover, TTL passed while we stalled)
// marks the directory unsynced. A heartbeat that only got no answer within OpTimeout does not:
// the next one, a tick later, tells whether anything was lost (TestRedisLateHeartbeatNoResync);
// re-asserting every entry on a Redis that is merely late would only make it later. Unsynced:
// ops are no longer queued, and once Redis answers again (tried every retryGap, 25 ms) the
// directory re-registers and resyncs — it sets its heartbeat key, removes what its own sets list
// but the mirror does not, and re-adds the whole mirror. No restart of the node is needed
// (TestRedisRestart). The heartbeat only refreshes a key that exists (XX), so a node whose key
// is gone stays invisible until RedisOptions.BeforeResync has run (the server's streams then
// hold their live messages) and resync sets it; AfterResync follows (TestRedisResyncHooks).
// When a client connection ends (rueidis calls OnInvalidations(nil): Redis died, or flushed
// everything) the heartbeat is checked at once rather than at its next turn. Recheck (the
// server's answer to a stream replay that could not be read) runs only the hooks, around a flush
// of queued ops, unless the heartbeat finds a re-sync due (TestRedisRecheckRunsHooksOnly).
//
// # Locks
//
// MemStore.mu and RedisDirectory.mu (and redisconn.Conn.mu): each guards its own fields, none
// is held across I/O, and none is held while another is taken, so there is no lock order to
// keep.
//
// # Benchmarks (2-core VM shared with other work; ranges over 3 runs)
//
//	go test -run '^$' -bench Directory -benchtime 200000x ./cluster
//	  cached UserNodes 2.0 µs/op, 0 Redis round trips/op
package cluster
