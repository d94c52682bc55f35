package server

import (
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/mesh"
)

// loopAnswers is a loop's edge.Answers (edge/edge.go): what the handlers of
// other packages (admin/ops.go) may ask of the loop that read their request.
// Each loopState holds one, so handing it over allocates nothing; only the
// loop touches it.
type loopAnswers struct {
	ls *loopState
	l  *engine.Loop
}

func (a *loopAnswers) Answer(h engine.Handle, req *httpcodec.Request, answer []byte) {
	a.ls.WriteAnswer(a.l, h, req, answer)
}

// Later puts h in modeAsync; the reply goes back to h's loop as an
// mesh.OpAsyncReply, as /conn's and routed publishes' do (mesh/async.go).
func (a *loopAnswers) Later(h engine.Handle, req *httpcodec.Request) (httpcodec.Persist, func([]byte)) {
	call := &mesh.AsyncCall{From: h, Kind: mesh.AsyncPprof, KeepAlive: httpcodec.Persistence(req), Head: edge.IsHead(req)}
	if c := a.ls.Live(h); c != nil {
		c.Mode = edge.ModeAsync
	}
	eng := a.ls.s.Eng
	return call.KeepAlive, func(answer []byte) {
		call.Reply = answer
		eng.Submit(h.Loop(), engine.Task{H: h, Op: mesh.OpAsyncReply, V: call})
	}
}

func (a *loopAnswers) Scratch() (out, body *[]byte) { return &a.ls.Out, &a.ls.Frame }

// answers returns the loop's edge.Answers for a request read on l.
func (ls *loopState) answers(l *engine.Loop) *loopAnswers {
	ls.answer = loopAnswers{ls, l}
	return &ls.answer
}
