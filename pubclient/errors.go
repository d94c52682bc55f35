package pubclient

import (
	"errors"
	"fmt"
)

// Sentinel errors for the statuses of SPEC §4; a *StatusError matches the one
// of its status with errors.Is.
var (
	// ErrBadRequest (400): a bad address, header or batch line.
	ErrBadRequest = errors.New("pubclient: bad request")
	// ErrUnauthorized (401): --api-token is set and the token is missing or wrong.
	ErrUnauthorized = errors.New("pubclient: unauthorized")
	// ErrForbidden (403): the publisher is not allowed to publish there.
	ErrForbidden = errors.New("pubclient: forbidden")
	// ErrNotFound (404): no live connection for a QoS 0 publish to a user or conn key.
	ErrNotFound = errors.New("pubclient: no live connection")
	// ErrInProgress (409): a publish with the same idempotency key is being delivered.
	ErrInProgress = errors.New("pubclient: idempotency key in progress")
	// ErrTooLarge (413): the body is over --max-message-bytes (--max-batch-bytes for a batch).
	ErrTooLarge = errors.New("pubclient: message too large")
	// ErrRateLimited (429): over --publish-rate.
	ErrRateLimited = errors.New("pubclient: rate limited")
	// ErrUnavailable (503): the message reached nobody (a node or the directory is down).
	ErrUnavailable = errors.New("pubclient: unavailable")
)

// StatusError is an answer other than 200 or 202.
type StatusError struct {
	Status  int    // the HTTP status (a batch line's "status")
	Message string // the answer's "error", or its body when that is not JSON
	Addr    string // the node that answered
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("pubclient: %s answered %d: %s", e.Addr, e.Status, e.Message)
}

// Is matches the sentinel error of e's status.
func (e *StatusError) Is(target error) bool { return statusSentinel(e.Status) == target }

func statusSentinel(status int) error {
	switch status {
	case 400:
		return ErrBadRequest
	case 401:
		return ErrUnauthorized
	case 403:
		return ErrForbidden
	case 404:
		return ErrNotFound
	case 409:
		return ErrInProgress
	case 413:
		return ErrTooLarge
	case 429:
		return ErrRateLimited
	case 503:
		return ErrUnavailable
	}
	return nil
}

// retryableStatus reports whether an answer with status may succeed when
// sent again (with a key, or RetryWithoutKey).
func retryableStatus(status int) bool { return status == 503 || status == 409 }
