package engine

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// An answer made in a task (away from OnData) is admitted like one made in
// OnData when written inside Loop.Answer, and cut as a slow consumer's
// output when not. The second of two big writes in successive iterations
// shows it: the first is a burst on a drained conn, which either may take
// (backpressure.go); the second lands on its backlog.
func TestAnswerFromTaskUsesTheOwnWriteLimit(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 200<<10) // over WriteBufferLimit, under 16× it
	for _, inAnswer := range []bool{true, false} {
		h := &funcHandler{
			data: func(l *Loop, h Handle, in []byte) int {
				l.Engine().Submit(l.Index(), Task{H: h, V: 2})
				return len(in)
			},
			task: func(l *Loop, t Task) {
				if inAnswer {
					l.Answer(t.H, func() { l.Write(t.H, big) })
				} else {
					l.Write(t.H, big)
				}
				if left := t.V.(int) - 1; left > 0 {
					l.Engine().Submit(l.Index(), Task{H: t.H, V: left}) // runs in the next iteration
				}
			},
		}
		_, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10, SendBufferBytes: 4 << 10}, h)
		c := dialSmallRcvbuf(t, addr)
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if inAnswer {
			if n, err := io.ReadFull(c, make([]byte, 2*len(big))); err != nil {
				t.Errorf("inside Answer: read %d of %d bytes: %v", n, 2*len(big), err)
			}
		} else if got, err := io.ReadAll(c); err != nil || len(got) >= 2*len(big) {
			t.Errorf("outside Answer: read %d bytes (%v); want the conn cut as a slow consumer at the second write", len(got), err)
		}
		c.Close()
	}
}
