package engine

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// An answer made in a task (away from OnData) is admitted like one made in
// OnData when written inside Loop.Answer, and cut as a slow consumer's
// output when not.
func TestAnswerFromTaskUsesTheOwnWriteLimit(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 200<<10) // over WriteBufferLimit, under 16× it
	for _, inAnswer := range []bool{true, false} {
		h := &funcHandler{
			data: func(l *Loop, h Handle, in []byte) int {
				l.Engine().Submit(l.Index(), Task{H: h})
				return len(in)
			},
			task: func(l *Loop, t Task) {
				if inAnswer {
					l.Answer(t.H, func() { l.Write(t.H, big) })
				} else {
					l.Write(t.H, big)
				}
			},
		}
		_, addr := startEngine(t, Config{Loops: 1, WriteBufferLimit: 64 << 10}, h)
		c := dial(t, addr)
		c.Write([]byte("go"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if inAnswer {
			got := make([]byte, len(big))
			if n, err := io.ReadFull(c, got); err != nil {
				t.Errorf("inside Answer: read %d of %d bytes: %v", n, len(big), err)
			}
		} else if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Errorf("outside Answer: read %d bytes; want the conn cut as a slow consumer", len(got))
		}
		c.Close()
	}
}
