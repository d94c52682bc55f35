package edge

import (
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/engine"
)

// AdoptStream takes stream record sub — its index and generation as an upgrade's old process
// gave them, so that the conn key built on sub names it here too — for HTTP/2 stream id of
// connection conn, before the loops start. It is false when sub names no stream record of
// this loop, or one already taken. The free list is made once every record is in
// (FreeUnusedStreams).
func (ls *Loop) AdoptStream(sub conntable.Sub, conn engine.Handle, id uint32) (*StreamSub, bool) {
	if !sub.IsStream() || sub.Loop() != ls.Index || sub.Gen() == 0 {
		return nil, false
	}
	i := sub.Index()
	for i/streamPageSize >= len(ls.streamPages) {
		ls.streamPages = append(ls.streamPages, new(streamPage))
	}
	st := &ls.streamPages[i/streamPageSize][i%streamPageSize]
	if st.Conn != 0 {
		return nil, false
	}
	*st = StreamSub{Conn: conn, Id: id, gen: sub.Gen()}
	return st, true
}

// StreamRecords is how many stream records the loop has: every stream subscriber's index is
// below it. An upgrade sends it (handoff.LoopMarks) so that the new process adopts no index
// past it.
func (ls *loopStreams) StreamRecords() int { return len(ls.streamPages) * streamPageSize }

// FreeUnusedStreams makes the free list of the stream records adoption left unused, lowest
// taken first.
func (ls *loopStreams) FreeUnusedStreams() {
	ls.freeStreams = ls.freeStreams[:0]
	for i := len(ls.streamPages)*streamPageSize - 1; i >= 0; i-- {
		if ls.streamPages[i/streamPageSize][i%streamPageSize].Conn == 0 {
			ls.freeStreams = append(ls.freeStreams, int32(i))
		}
	}
}
