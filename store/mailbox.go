package store

import (
	"context"
	"errors"
)

// Mailbox keeps each user's QoS 1 messages until they are acknowledged or
// expire (SPEC §5). Memory answers at once; Redis waits on the network, so
// its callers make every call away from the event loops. Safe for
// concurrent use.
type Mailbox[M Message] interface {
	// Put keeps m for user (taking a reference, or a copy) before the
	// publish is answered; ErrUserFull or ErrFull when there is no room.
	// Putting the same message again keeps it once.
	Put(ctx context.Context, user []byte, m M, nowMs int64) error
	// AckIDs removes the user's messages whose ids are listed (sorted) —
	// the ones a connection of the user was sent — and appends to dst the
	// ids it removed.
	AckIDs(ctx context.Context, dst []uint64, user []byte, ids []uint64) ([]uint64, error)
	// AppendPending appends the user's messages that have not expired by
	// nowMs, in id order, each with a reference the caller releases, and
	// returns lost: the newest id of the user's messages that expired
	// unacknowledged (0 = none remembered; see lost.go), so that a client
	// resuming from an older id learns it missed them (the gap frame).
	AppendPending(ctx context.Context, dst []M, user []byte, nowMs int64) (msgs []M, lost uint64, err error)
}

// Errors of Put. The texts are what a publisher reads in its 503 answer.
var (
	ErrUserFull = errors.New("this user already has --store-messages unacknowledged messages")
	ErrFull     = errors.New("the QoS 1 store is full (--store-bytes)")
)
