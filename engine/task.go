package engine

// Task is work handed to a loop from any goroutine (Engine.Submit, SubmitBatch: the loop's
// taskq.Queue). V usually holds a pointer (no allocation when stored in the interface). H may
// be zero for loop-wide work.
type Task struct {
	H  Handle
	Op uint32
	V  any
}
