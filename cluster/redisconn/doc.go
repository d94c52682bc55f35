// Package redisconn is the Redis client a pushwire node uses besides its directory (Conn), and
// the --redis URL forms both parse (ClientOption): one Redis, the seeds of a Redis Cluster, or
// the sentinels of a primary, with ?wait_replicas=N for QoS 1 store writes. Package cluster's
// directory builds its own client from the same URL and answers the same errors, which it
// names cluster.ErrDirectoryDown and cluster.ErrClosed (cluster.Observer is Observer).
//
// # API
//
//	New(Options) (*Conn, error)              // the Redis client of the QoS 1 mailbox,
//	(*Conn).Do/DoMulti/Close                  // idempotency keys, user conns (conn.go)
//	(*Conn).DoDurable(ctx, key, write)        // write, then WAIT N with --redis ...?wait_replicas=N
//	ClientOption(url, opTimeout)              // --redis → rueidis options (url.go)
//	type Observer interface { RedisCommand }  // /metrics; Timed(client, Observer) (observe.go)
//
// # The shared Redis connection
//
// Conn is the client of what a node keeps in Redis besides its directory: the QoS 1
// mailbox (package store, store/redis.go, whose doc has its key and member encoding), the
// idempotency keys and the per-user conn keys (package admit: IdemRedis, UserConnsRedis). It
// starts dialing when made, in the background, and does not wait for it: requests that come
// during that dial wait for it (so a new node's first subscribers still get their replay;
// TestRedisConnDialsAtStart), and while Redis is down a dial is tried at most every
// connRetryGap (500 ms). It bounds each request by OpTimeout, answers errors wrapping ErrDown
// while Redis is unreachable, retries at once a request that met a connection broken while
// idle, and uses Redis again as soon as it answers.
//
// Conn.mu guards its own fields, is never held across I/O, and nothing else is taken while it
// is held.
package redisconn
