package store

import "github.com/pushwire/pushwire/push"

// Message is what the stores keep: a published push, shared read-only by
// reference. A store takes a reference (Retain) for each copy it keeps and
// drops it (Release) when it lets the copy go; what it hands back carries a
// reference of the caller's.
type Message interface {
	Push() *push.Message // the fields; read-only once published
	Retain()
	Release()
}
