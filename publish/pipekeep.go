package publish

// What a loop's spare answer queues and their lanes keep for reuse
// (pipeline.go, routelane.go) is bounded: a routed answer is the router's
// own buffer (a 4 MiB batch's answer is megabytes), and a lane's combined
// items grow with the largest run of jobs routed together. Kept, one burst
// of big pipelined batches would pin them in every spare queue (16 a loop,
// 64 slots each) for the life of the process.

// maxKeptReply is the largest answer buffer a slot keeps after its answer
// was written: a plain publish's answer fits many times over.
const maxKeptReply = 4 << 10

// maxKeptItems is the largest combined items slice a lane keeps.
const maxKeptItems = 1024

// keptReply is what a slot keeps of reply once written.
func keptReply(reply []byte) []byte {
	if cap(reply) > maxKeptReply {
		return nil
	}
	return reply
}
