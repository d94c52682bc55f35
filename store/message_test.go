package store

import (
	"sync/atomic"

	"github.com/pushwire/pushwire/push"
)

// testMessage is a Message for the stores' tests: the fields and a count of
// the references taken, which must never go below zero.
type testMessage struct {
	push.Message
	refs atomic.Int32
}

func newTestMessage(p *push.Message) *testMessage {
	m := &testMessage{Message: *p}
	m.To = append([]byte(nil), p.To...) // p's fields are views, valid during the call
	m.Event = append([]byte(nil), p.Event...)
	m.ContentType = append([]byte(nil), p.ContentType...)
	m.refs.Store(1)
	return m
}

func (m *testMessage) Push() *push.Message { return &m.Message }
func (m *testMessage) Retain()             { m.refs.Add(1) }
func (m *testMessage) Release() {
	if m.refs.Add(-1) < 0 {
		panic("store test: message released more often than retained")
	}
}
