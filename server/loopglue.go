package server

import (
	"time"

	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/h2edge"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/publish"
	"github.com/pushwire/pushwire/subscribe"
	"github.com/pushwire/pushwire/upgrade"
	"github.com/pushwire/pushwire/userpolicy"
)

// loopState is the glue's state on one engine loop: the edge's Loop (its
// fields and methods promoted) and the parts of the handlers above it. Only
// that loop's goroutine touches it.
type loopState struct {
	*edge.Loop
	s *Server

	*publish.Publishing                // publishing: the request's route job, answer queues (publish/publisher.go)
	*subscribe.SubLoop                 // subscribing: allowed sets, the preset key (subscribe/subscribing.go)
	*mesh.MeshLoop                     // the mesh: QoS 1 replays, /conn, the user policy (mesh/mesh.go)
	h2                  *h2edge.H2Loop // HTTP/2 connections' codecs and scratch (h2edge/h2.go)
	up                  *upgrade.Loop  // a handoff's part of the loop (upgrade/upgrader.go)
	answer              loopAnswers    // the loop's edge.Answers (loopanswers.go)
}

func newLoopState(s *Server, l *edge.Loop) *loopState {
	p, sub := publish.NewPublishing(l, &s.Publisher), subscribe.NewSubLoop(l, &s.Subscribing)
	ml := s.Mesh.NewMeshLoop(l, p, sub)
	h2 := s.H2.NewH2Loop(ml)
	return &loopState{Loop: l, s: s, Publishing: p, SubLoop: sub, MeshLoop: ml, h2: h2, up: s.Upgrader.NewLoop(ml, h2)}
}

// makePubGlue is what publishing asks of the node (PubGlue).
func (s *Server) makePubGlue() publish.PubGlue {
	return publish.PubGlue{
		Alone: func() bool { return s.Cluster.Alone() },
		Keep: func(user []byte, m *edge.Message, nowMs int64) (bool, bool, error) {
			return s.Store.Keep(user, m, nowMs)
		},
		AsyncReply: func(from engine.Handle, keepAlive httpcodec.Persist, answer []byte) {
			call := &mesh.AsyncCall{From: from, KeepAlive: keepAlive, Reply: answer}
			s.Eng.Submit(from.Loop(), engine.Task{H: from, Op: mesh.OpAsyncReply, V: call})
		},
	}
}

// makeSubGlue is what subscribing asks of the node (SubGlue).
func (s *Server) makeSubGlue() subscribe.SubGlue {
	on := func(l *engine.Loop) *loopState { return s.loops[l.Index()] }
	return subscribe.SubGlue{
		Fetch: func(h engine.Handle, user []byte, since uint64, hasSince, gapped bool) bool {
			return s.Store.Fetch(h, user, since, hasSince, gapped)
		},
		Resume: func(user []byte, since uint64, nowMs int64) { s.Store.Resume(user, since, nowMs) },
		AppendNow: func(dst []*edge.Message, user []byte, nowMs int64) ([]*edge.Message, uint64) {
			return s.Store.AppendNow(dst, user, nowMs)
		},
		Joined: func(g conntable.Group, name []byte) { s.Cluster.Joined(g, name) },
		Left:   func(g conntable.Group, name []byte) { s.Cluster.Left(g, name) },
		GateUser: func(l *engine.Loop, h engine.Handle, c *edge.ConnState, sn *subscribe.Subscription) bool {
			return on(l).GateUser(l, h, c, sn)
		},
		StreamLeft: func(sub conntable.Sub, st *edge.SubState) { s.loops[sub.Loop()].StreamLeft(sub, st) },
		H2Start:    func(l *engine.Loop, sn *subscribe.Subscription) { on(l).h2.H2Start(l, sn) },
		H2AnswerPoll: func(l *engine.Loop, sub conntable.Sub, c *edge.SubState, extra []*edge.Message, final bool) bool {
			return on(l).h2.H2AnswerPoll(l, sub, c, extra, final)
		},
		H2Finish: func(l *engine.Loop, from conntable.Sub, answer []byte, head bool) {
			on(l).h2.H2Finish(l, from, answer, head)
		},
		H2End: func(l *engine.Loop, sub conntable.Sub, conn engine.Handle) { on(l).h2.H2End(l, sub, conn) },
		H2Cancel: func(l *engine.Loop, sub conntable.Sub, conn engine.Handle) bool {
			return on(l).h2.H2Cancel(l, sub, conn)
		},
	}
}

// makeMeshGlue is what the mesh asks of the node (MeshGlue).
func (s *Server) makeMeshGlue() mesh.MeshGlue {
	return mesh.MeshGlue{
		AdmitTake:       s.Upgrader.AdmitTake,
		TakeDone:        s.Upgrader.TakeDone,
		ListenLink:      s.Upgrader.ListenLink,
		MirrorAdopted:   s.Upgrader.MirrorAdopted,
		TakingOver:      func() bool { return s.Taken.API != nil }, // the takeover adopted its listeners first
		PublishAnswered: func(l *engine.Loop, h engine.Handle) { s.loops[l.Index()].publishAnswered(h) },
		H2FinishAsync: func(l *engine.Loop, from conntable.Sub, call *mesh.AsyncCall) {
			s.loops[l.Index()].h2.H2FinishAsync(l, from, call)
		},
	}
}

// makeGlue is the table through which the edge's loops call the handlers
// above them; each entry finds the loop's loopState by index.
func (s *Server) makeGlue() edge.Glue {
	on := func(l *engine.Loop) *loopState { return s.loops[l.Index()] }
	g := edge.Glue{
		Frozen:       s.Upgrader.Frozen,
		ObserveDelay: func(loop int, m *edge.Message) { s.loops[loop].recordDelay(m) },
		PollAnswer: func(l *engine.Loop, sub conntable.Sub, c *edge.SubState, extra []*edge.Message, final bool) bool {
			return on(l).PollAnswer(l, sub, c, extra, final)
		},
		AnswerPoll: func(l *engine.Loop, h engine.Handle, c *edge.ConnState, extra []*edge.Message, final bool) bool {
			return on(l).AnswerPoll(l, h, c, extra, final)
		},
		Unsubscribe: func(l *engine.Loop, c *edge.ConnState) { on(l).Unsubscribe(l, c) },
		LifeDue: func(l *engine.Loop, sub conntable.Sub, st *edge.SubState, conn engine.Handle, now time.Time, visitEvery time.Duration) bool {
			return on(l).LifeDue(l, sub, st, conn, now, visitEvery)
		},
		WaitPipe: func(l *engine.Loop, c *edge.ConnState, req *httpcodec.Request, keepAlive bool) bool {
			return on(l).WaitPipe(c, req, keepAlive)
		},
		HoldRequest: func(l *engine.Loop, h engine.Handle, c *edge.ConnState) bool {
			ls := on(l)
			return ls.up.Hold(h) || ls.FullPipe(c)
		},
		Reply: func(l *engine.Loop, h engine.Handle, answer []byte) { on(l).Reply(l, h, answer) },
		CloseAfterPipe: func(l *engine.Loop, h engine.Handle, answer []byte) bool {
			return on(l).CloseAfterPipe(h, answer)
		},
		DropPipe: func(l *engine.Loop, h engine.Handle) { on(l).DropPipe(h) },
		SpeaksH2: func(l *engine.Loop, h engine.Handle, in []byte) (bool, bool) { return on(l).h2.SpeaksH2(l, h, in) },
		StartH2:  func(l *engine.Loop, h engine.Handle, c *edge.ConnState) { on(l).h2.StartH2(l, h, c) },
		FeedH2: func(l *engine.Loop, h engine.Handle, c *edge.ConnState, in []byte) int {
			return on(l).h2.FeedH2(l, h, c, in)
		},
		CloseH2: func(l *engine.Loop, c *edge.ConnState) { on(l).h2.CloseH2(l, c) },
		Tick: func(l *engine.Loop, now time.Time) {
			ls := on(l)
			ls.up.ResumeHeld(l)
			ls.h2.TickH2(now)
		},
		SweepH2: func(l *engine.Loop, c *edge.ConnState, now time.Time, quiet, visitEvery time.Duration) {
			on(l).h2.SweepH2(l, c, now, quiet, visitEvery)
		},
		DrainH2: func(l *engine.Loop, c *edge.ConnState, nowMs int64, spread time.Duration) {
			on(l).h2.DrainH2(l, c, nowMs, spread)
		},
		H2Data: func(l *engine.Loop, sub conntable.Sub, conn engine.Handle, b []byte) {
			on(l).h2.H2Data(l, sub, conn, b)
		},
	}
	g.Serve[edge.ListenerEdge] = func(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request) {
		on(l).serveEdge(l, h, c, req)
	}
	g.Serve[edge.ListenerAPI] = func(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request) {
		on(l).serveAPI(l, h, c, req)
	}
	task := func(op int, fn func(ls *loopState, l *engine.Loop, t engine.Task)) {
		g.Tasks[op] = func(l *engine.Loop, t engine.Task) { fn(on(l), l, t) }
	}
	task(userpolicy.OpKick, func(ls *loopState, l *engine.Loop, t engine.Task) {
		if sub, conn := ls.SubscriberOf(conntable.Sub(t.H)); sub != nil {
			ls.Kick(l, conntable.Sub(t.H), sub, conn)
		}
	})
	task(mesh.OpConnCall, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.RunConnCall(l, t.V.(*mesh.AsyncCall)) })
	task(mesh.OpAsyncReply, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.FinishAsync(l, t.H, t.V.(*mesh.AsyncCall)) })
	task(mesh.OpReplay, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.ReplayBatch(l, t.H, t.V.(*mesh.ReplayBatch)) })
	task(subscribe.OpAuthDone, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.AuthDone(l, t.V.(*subscribe.AuthCall)) })
	task(publish.OpKeyedPublish, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.KeyedPublish(l, t.V.(*publish.KeyedCall)) })
	task(mesh.OpResyncHold, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.ResyncHold(t.V.(chan struct{})) })
	task(mesh.OpResyncReplay, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.ResyncReplay(l) })
	task(mesh.OpResyncFailed, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.ResyncFailed(l) })
	task(upgrade.OpStep, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.up.Step(l, t) })
	task(publish.OpPipeReply, func(ls *loopState, l *engine.Loop, t engine.Task) { ls.PipeAnswered(l, t.V.(*publish.RouteJob)) })
	return g
}
