// Package pubclient publishes to pushwire (SPEC §4) from Go: one message with
// Publish, many with PublishBatch, over keep-alive connections (fasthttp) to
// one or more nodes of a cluster.
//
// Any node routes a publish to wherever its target is held, so a Client
// takes several api addresses: it spreads publishes over them in turn, and
// an address that refuses connections is skipped for a while (Config.DownFor)
// and its publish goes to the next one.
//
// # Errors
//
// An answer that is not 200 or 202 is a *StatusError carrying the status and
// the server's "error" text; errors.Is matches it against ErrBadRequest (400),
// ErrUnauthorized (401), ErrForbidden (403), ErrNotFound (404: no live
// connection for a QoS 0 publish to a user or conn key), ErrInProgress (409:
// the same idempotency key is being delivered), ErrTooLarge (413),
// ErrRateLimited (429) and ErrUnavailable (503: the message reached nobody).
// A failure to reach any node is returned as the transport's error.
//
// # Retries and idempotency keys
//
// A publish that failed with 503, 409, or a connection error is retried, with
// jittered exponential backoff (Config.Backoff up to Config.MaxBackoff, at most
// Config.Retries times, each on the next address), but only when it carries an
// idempotency key, or when the caller opted in with Config.RetryWithoutKey.
//
// Why: a failure does not prove that nothing was delivered. A connection
// that breaks after the request was sent may break after the node delivered
// the message and before its answer arrived; a 503 from a node whose forward
// to a slow peer timed out may come while that peer still writes the message
// to its subscribers. A retry then delivers the message a second time. With
// an idempotency key, every node of the cluster remembers the key for
// --idempotency-window: a repeat is not delivered again and is answered with
// the first answer plus "duplicate":true (Result.Duplicate), and a repeat that
// arrives while the first is still in flight gets 409, which is retried too.
// Publishes whose connection was refused before anything was sent (the node
// is down) move to the next address whether keyed or not, since nothing can
// have been delivered. Set RetryWithoutKey when a second copy does no harm
// (idempotent payloads, a "refresh" nudge).
//
// # Contexts
//
// Every call takes a context: its deadline bounds the request (together with
// Config.Timeout per attempt), and cancelling it returns ctx.Err() at once,
// also while waiting between retries. A request already sent when the
// context is cancelled may still be delivered: cancellation stops waiting,
// it cannot recall a message. A context that can be cancelled costs one
// goroutine per attempt (fasthttp cannot be interrupted, so the attempt runs
// beside the caller); context.Background costs none. PublishBatch reads its
// result lines on the caller's goroutine and checks the context between them.
package pubclient
