package upgrade

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pushwire/pushwire/auth"
	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/conntable"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/links"
	"github.com/pushwire/pushwire/mesh"
	"github.com/pushwire/pushwire/push"
)

type adoptedName struct {
	g    conntable.Group
	name string
}

// listenerLink tags the cluster link listener in a handoff (the engine's tags are 0 and 1).
const listenerLink = 2

// loopUpgrade is one loop's part of a handoff on the old side.
type loopUpgrade struct {
	frozen    bool // OnTick does nothing: no heartbeat or timeout may write to a detached conn
	detached  []engine.Handle
	listeners []heldListener
	out       loopExport             // the export's batch and scratch (stream.go)
	lateBase  int64                  // engine.Loop.LateWrites when the conns were exported
	busy      int                    // connections not detached yet because their answer is being made
	late      bool                   // a write reached an exported conn
	marks     handoff.LoopMarks      // the loop's slots and stream records at the last quiesce round
	h2Ended   map[engine.Handle]bool // HTTP/2 conns told to reconnect (h2CannotMove): once each
}

type heldListener struct {
	fd, tag int
	tls     bool
}

// Upgrade step kinds (upgradeStep.kind).
const (
	stepQuiesce = iota
	stepExport
	stepCheck
	stepResume
)

// upgradeStep is one round of a handoff, run as a task on every loop.
type upgradeStep struct {
	kind int
	wg   sync.WaitGroup
}

var (
	errUpgradeRunning = errors.New("an upgrade is already running")
	errLateWrite      = errors.New("output was written to a handed-over connection after its export")
)

// HandOff hands every listener and held connection to the process at the other end of c,
// which must answer ready by deadline. nil means the new process serves them now: the caller
// exits 0 without Close (which would leave the cluster and close what moved). On an error
// the node carries on with everything it had.
func (u *Upgrader) HandOff(c *net.UnixConn, deadline time.Time) error {
	if !u.Running.Load() || u.Draining.Load() {
		return errors.New("the node is not serving")
	}
	if !u.active.CompareAndSwap(false, true) {
		return errUpgradeRunning
	}
	defer u.active.Store(false)
	err := u.handOff(c, deadline)
	if err != nil {
		handoff.Abort(c, err.Error())
		u.round(stepResume)
		u.refuse.Store(false)
		u.failed.Add(1)
	}
	return err
}

func (u *Upgrader) handOff(c *net.UnixConn, deadline time.Time) error {
	snd := handoff.NewSender(c, deadline)
	if err := snd.AwaitStarted(); err != nil { // serving on while the new binary starts
		return fmt.Errorf("the new process did not start: %w", err)
	}
	// Peers' pushes are refused from here, not from SIGUSR2: the old process serves every
	// connection while the new binary starts, and a push refused meanwhile would be a QoS 0
	// push lost to this node's subscribers or a QoS 1 one left for the replay after go.
	u.refuse.Store(true)
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // the export's copies: see TakeOver
	frozen := time.Now()
	quiet := frozen.Add(min(5*time.Second, time.Until(deadline)/2))
	u.h2Until = frozen.Add(min(h2QuietWait, quiet.Sub(frozen)/2))
	for u.takes.Load() > 0 { // pushes from peers taken before the refusal: let them land
		if time.Now().After(quiet) {
			return errors.New("pushes from peers still being delivered")
		}
		time.Sleep(time.Millisecond)
	}
	for {
		if busy := u.round(stepQuiesce); busy == 0 {
			break
		} else if time.Now().After(quiet) {
			return fmt.Errorf("%d connections still waiting for an answer", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
	u.round(stepQuiesce) // a last round: whatever the previous one queued has run
	quiesced := time.Now()
	reconnectsAtHello := u.reconnects.Load() // the hello carries these; the end those after
	if err := u.streamOut(snd); err != nil { // stream.go
		return err
	}
	if err := u.exportQoS(snd); err != nil {
		return err
	}
	if err := snd.EndWith(u.reconnects.Load() - reconnectsAtHello); err != nil {
		return err
	}
	sent := time.Now()
	if err := snd.AwaitReady(); err != nil {
		return fmt.Errorf("the new process did not become ready: %w", err)
	}
	u.round(stepCheck)
	for i := range u.loops {
		if u.loops[i].up.late {
			return errLateWrite
		}
	}
	if err := snd.Go(); err != nil {
		return err
	}
	u.Log.Info("upgrade: handed over", "connections", snd.Conns(), "paused", time.Since(frozen),
		"quiesce", quiesced.Sub(frozen), "stream", sent.Sub(quiesced), "ready", time.Since(sent))
	if u.Cluster.Server != nil && !u.Cluster.Server.HandOver(time.Second) {
		u.Log.Warn("upgrade: some peers' links did not end within a second")
	}
	return nil
}

// round runs one step on every loop and waits for it; it returns the busy conns (quiesce).
func (u *Upgrader) round(kind int) int {
	st := &upgradeStep{kind: kind}
	st.wg.Add(len(u.loops))
	for i := range u.loops {
		u.Eng.Submit(i, engine.Task{Op: OpStep, V: st})
	}
	st.wg.Wait()
	busy := 0
	for i := range u.loops {
		busy += u.loops[i].up.busy
	}
	return busy
}

// upgradeStep runs one round of a handoff on loop l.
func (ls *Loop) upgradeStep(l *engine.Loop, st *upgradeStep) {
	defer st.wg.Done()
	u := &ls.up
	switch st.kind {
	case stepQuiesce:
		ls.quiesce(l, u)
	case stepExport:
		ls.export(l, u)
	case stepCheck:
		u.late = l.LateWrites() != u.lateBase
	case stepResume:
		for _, h := range u.detached {
			l.Reattach(h)
		}
		l.ReattachListeners()
		*u = loopUpgrade{}
	}
}

// quiesce detaches the loop's listeners and every connection that can move and is not busy.
func (ls *Loop) quiesce(l *engine.Loop, u *loopUpgrade) {
	if !u.frozen {
		u.frozen = true
		l.DetachListeners(func(fd, tag int, tls bool) {
			u.listeners = append(u.listeners, heldListener{fd: fd, tag: tag, tls: tls})
		})
	}
	u.busy = 0
	// Nothing is accepted any more (the listeners are detached) and a detached conn opens no
	// HTTP/2 stream: every slot and stream record exported is below these.
	u.marks = handoff.LoopMarks{Slots: uint32(l.Slots()), Streams: uint32(ls.StreamRecords())}
	nowMs := l.Now().UnixMilli()
	for _, page := range ls.Pages {
		for i := range page {
			c := &page[i]
			if c.H == 0 || c.Mode == edge.ModeClosing || l.Detached(c.H) {
				continue
			}
			if c.Mode == edge.ModePoll {
				ls.AnswerPoll(l, c.H, c, nil, true) // 204: the client asks again, of the new process
			}
			_, held := ls.Held[c.H]
			if c.Mode == edge.ModeAsync || held || ls.PipeOf(c.H) != nil { // answers in flight (publish/pipeline.go)
				u.busy++
				continue
			}
			if c.Mode == edge.ModeH2 {
				ls.quiesceH2(l, c, u, nowMs) // h2.go
				continue
			}
			if c.Mode != edge.ModeRequest && c.Mode != edge.ModeStream {
				continue
			}
			if _, err := l.Detach(c.H); err != nil {
				ls.cannotMove(l, c, nowMs)
				continue
			}
			u.detached = append(u.detached, c.H)
		}
	}
}

// cannotMove ends a connection whose transport state cannot move: a stream gets the
// reconnect frame (counted), a request connection closes once its answer is out.
func (ls *Loop) cannotMove(l *engine.Loop, c *edge.ConnState, nowMs int64) {
	if c.Mode == edge.ModeStream && c.Listener == edge.ListenerEdge {
		ls.u.reconnects.Add(1)
		ls.DrainConn(l, c, nowMs, time.Second)
		return
	}
	c.Mode = edge.ModeClosing
	ls.CancelTimer(c)
	l.CloseAfterFlush(c.H)
}

// h2CannotMove ends an HTTP/2 connection that cannot move (it did not come quiet within
// h2QuietWait, or its socket cannot be detached): each of its streams gets the reconnect
// frame, then GOAWAY, as in a drain; each stream is counted in upgrade_reconnects. Quiesce
// runs in rounds, so u remembers it: a second round must not write the frames again.
func (ls *Loop) h2CannotMove(l *engine.Loop, c *edge.ConnState, u *loopUpgrade, nowMs int64) {
	if u.h2Ended == nil {
		u.h2Ended = map[engine.Handle]bool{}
	}
	u.h2Ended[c.H] = true
	ls.u.reconnects.Add(uint64(len(ls.h2.Streams(c.H))))
	ls.DrainConn(l, c, nowMs, time.Second)
}

// export makes a record of every detached connection and sends it in the loop's batches
// (stream.go); a send error stops it (u.out.err). A connection whose record is over a bound
// is not movable: it is reattached and told to reconnect (cannotMove), as a TLS conn whose
// state cannot be taken.
func (ls *Loop) export(l *engine.Loop, u *loopUpgrade) {
	x := &u.out
	for _, h := range u.detached {
		c := ls.Live(h)
		fd, err := l.Detach(h) // already detached: returns its descriptor
		if c == nil || err != nil {
			continue
		}
		x.rec = handoff.Record{Kind: handoff.KindConn, Conn: handoff.Conn{Topics: x.rec.Conn.Topics[:0], Allowed: x.rec.Conn.Allowed[:0]}}
		r := &x.rec.Conn
		r.Handle, r.Listener, r.Mode = uint64(h), c.Listener, uint8(c.Mode)
		if r.Pending, r.Carry, r.State, err = l.Export(x.pending[:0], x.carry[:0], x.state[:0], h); err != nil {
			// a TLS conn whose record layer cannot be taken: it stays here and is told to
			// reconnect (a failed Export leaves no stale marks: Reattach resumes it)
			l.Reattach(h)
			ls.cannotMove(l, c, l.Now().UnixMilli())
			continue
		}
		if len(r.State) > 0 { // the scratch given to Export is not nil: a TLS state is never empty
			r.Transport = handoff.TransportTLS
		}
		r.Peer = ls.Peers[h]
		if c.Mode == edge.ModeStream {
			ls.exportStream(c, r, &x.names)
		}
		var h2rec *handoff.Record
		if c.Mode == edge.ModeH2 {
			if h2rec, err = ls.exportH2(c, r, &x.names); err != nil { // h2.go
				l.Reattach(h)
				ls.h2CannotMove(l, c, u, l.Now().UnixMilli())
				continue
			}
		}
		if err := x.add(fd, h2rec); errors.Is(err, handoff.ErrTooLarge) {
			// This conn's record is over a bound (topics, pending output): it alone cannot
			// move; it stays here and is told to reconnect, and the others move.
			ls.u.Log.Warn("upgrade: a connection's state is over the handoff's bounds; it is told to reconnect", "err", err)
			l.Reattach(h)
			if c.Mode == edge.ModeH2 {
				ls.h2CannotMove(l, c, u, l.Now().UnixMilli())
			} else {
				ls.cannotMove(l, c, l.Now().UnixMilli())
			}
		} else if err != nil {
			break
		}
	}
	x.flush()
	u.lateBase = l.LateWrites()
}

// A stream holds no more topics than a record carries (mesh/subscriptions.go holds server-side
// subscribes to links.MaxStreamTopics): this does not compile if they part.
const _ = uint(handoff.MaxTopics - links.MaxStreamTopics)

// exportStream fills in a stream's state; the names go in *names (scratch, reset).
func (ls *Loop) exportStream(c *edge.ConnState, r *handoff.Conn, names *[]byte) {
	*names = (*names)[:0]
	ls.exportSub(conntable.ConnSub(conntable.Handle(c.H)), &c.SubState, r, names)
}

// exportSub fills in subscriber sub's state: its key's random bits, framing, cursor, heartbeat
// rhythm, lifetime and names (an HTTP/1.x conn's, or an HTTP/2 stream's). The names are
// appended to *names, which r views until it is encoded.
func (ls *Loop) exportSub(sub conntable.Sub, c *edge.SubState, r *handoff.Conn, names *[]byte) {
	keys, i := ls.KeysOf(sub)
	r.Random = keys.Random(i, sub)
	r.Format, r.Minor, r.Origin, r.Cursor = uint8(c.Format), c.Minor, c.Origin, c.Cursor
	r.LastFrameMs = ls.u.TimeOf(c.At).UnixMilli()
	r.AgeEndMs, r.ExpiresMs, r.Refreshed = ls.u.ExportLife(c)
	r.HasUser = c.HasUser
	buf := *names
	for k, m := range ls.SubMembers(c) {
		start := len(buf)
		var ok bool
		if buf, _, ok = ls.u.Table.AppendName(buf, m); !ok {
			continue
		}
		if k == 0 && c.HasUser {
			r.User = buf[start:len(buf):len(buf)]
		} else {
			r.Topics = append(r.Topics, buf[start:len(buf):len(buf)])
		}
	}
	r.Allowed, r.AnyTopic = r.Allowed[:0], false
	if id := ls.AllowedOf(sub); id != nil { // the patterns its server-side subscribes are held to
		r.AnyTopic = id.AnyTopic
		for _, p := range id.Topics {
			start := len(buf)
			buf = append(buf, p...)
			r.Allowed = append(r.Allowed, buf[start:len(buf):len(buf)])
		}
	}
	*names = buf
}

// HandedOver finishes what this process still owes once the new one serves: the lifecycle
// events already queued for --hook-url, within wait. Nothing else is closed: the cluster's
// entries and every socket now belong to the new process.
func (u *Upgrader) HandedOver(wait time.Duration) {
	if u.Hooks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		u.Hooks.Close(ctx)
		cancel()
	}
}

// TakeOver starts the node from a handoff on c instead of opening listeners: it adopts
// the old process's listeners and connections (their addresses in u.Taken, their count in
// u.Adopted), says ready, and starts the loops once the old process lets go; the assembly's
// TakeOver (server) then starts what else it runs. On an error the old process keeps everything; the caller must exit without Close
// (which would leave the cluster the old process is still in).
func (u *Upgrader) TakeOver(c *net.UnixConn, deadline time.Time) (handoff.Meta, error) {
	// The link server serves only after go (mesh.ServeLinks): a takeover that fails must not
	// have accepted peers' links, which would end with it (a reset link: the node is gone for
	// routing); they wait in the shared listener's queue for whichever process serves. Pushes
	// from peers are refused until this process serves the connections all the same.
	u.refuse.Store(true)
	u.LinksAfterGo = true
	// No collection while the old process waits: the heap grows from nothing with every
	// record, which would otherwise trigger a collection every few MB (collectLater).
	gcPercent := debug.SetGCPercent(-1)
	served := false
	defer func() {
		if !served {
			debug.SetGCPercent(gcPercent)
		}
	}()
	if err := handoff.Started(c, deadline); err != nil {
		return handoff.Meta{}, err
	}
	a := u.newStreamAdopter() // stream.go: each conn as it arrives, a goroutine a loop
	t, err := handoff.ReceiveStream(c, deadline, a)
	if werr := a.wait(); werr != nil {
		err = werr // the cause; the receiver's error then only says it stopped
	}
	if err != nil {
		if t != nil {
			t.Close()
		}
		handoff.Abort(c, err.Error())
		return handoff.Meta{}, err
	}
	if err := u.adopt(t, a.now()); err != nil {
		t.Close()
		handoff.Abort(c, err.Error())
		return t.Meta, err
	}
	if err := handoff.Ready(c, deadline); err != nil {
		return t.Meta, err
	}
	u.count.Store(t.Upgrades + 1)
	u.failed.Store(t.UpgradesFailed)
	u.reconnects.Store(t.UpgradeReconnects + t.EndReconnects)
	if err := u.Eng.Start(); err != nil {
		return t.Meta, err
	}
	u.Running.Store(true)
	u.refuse.Store(false)
	if u.Cluster.Server != nil {
		u.Cluster.ServeLinks()
	}
	u.ReplayAdopted() // mesh/resync.go: what peers' refused pushes stored meanwhile
	u.Adopted = a.conns
	t.Stored, t.Sent = nil, nil
	served = true
	collectLater(gcPercent) // stream.go
	return t.Meta, nil
}

// adoptMeta takes the node's identity from the hello, before any connection.
func (u *Upgrader) adoptMeta(t *handoff.Meta) error {
	if !push.ValidNodeID([]byte(t.NodeID)) || t.Boundary == "" {
		return fmt.Errorf("node id %q or boundary %q unusable", t.NodeID, t.Boundary)
	}
	u.marks = t.Loops
	u.ID, u.Boundary = t.NodeID, []byte(t.Boundary)
	u.IDs.Init(t.NodeID, t.Seq)
	if u.TLS != nil {
		u.TLS.AdoptTicketKeys(t.TicketKeys)
	}
	return nil
}

// markOf is what loop i of the old process had (none, for a loop it did not have).
func (u *Upgrader) markOf(i int) handoff.LoopMarks {
	if i < len(u.marks) {
		return u.marks[i]
	}
	return handoff.LoopMarks{}
}

// adoptHanded takes one connection into the engine and the table, before the loops start;
// fd is the engine's from here, even on an error. r's slices are the receiver's views: the
// engine and the table copy what they keep.
func (u *Upgrader) adoptHanded(r *handoff.Conn, fd int, now time.Time) error {
	h := engine.Handle(r.Handle)
	if h.Loop() >= len(u.loops) {
		os.NewFile(uintptr(fd), "conn").Close()
		return fmt.Errorf("a connection of loop %d; this process has %d loops", h.Loop(), len(u.loops))
	}
	if slots := u.markOf(h.Loop()).Slots; h.Slot() >= min(int(slots), conntable.MaxConnSlots) {
		os.NewFile(uintptr(fd), "conn").Close()
		return fmt.Errorf("a connection in slot %d of loop %d; the old process had %d slots there", h.Slot(), h.Loop(), slots)
	}
	var err error
	switch r.Transport {
	case handoff.TransportPlain:
		err = u.Eng.AdoptConn(h, fd, r.Pending, r.Carry)
	case handoff.TransportTLS:
		err = u.Eng.AdoptTLSConn(h, fd, u.TLS, r.State, r.Pending, r.Carry)
		clear(r.State) // the engine keeps the keys it needs; no other copy stays
	default:
		os.NewFile(uintptr(fd), "conn").Close()
		err = fmt.Errorf("transport %d unknown to this build", r.Transport)
	}
	if err != nil {
		return err
	}
	u.loops[h.Loop()].adoptConn(r, now)
	return nil
}

// adopt takes the rest of what the handoff carried once its end is in: the listeners, the
// cluster (whose directory learns the adopted names), the QoS 1 state.
func (u *Upgrader) adopt(t *handoff.Taken, now time.Time) error {
	for i := range t.Listeners {
		if err := u.adoptListener(&t.Listeners[i]); err != nil {
			return err
		}
	}
	if u.Taken.API == nil {
		return errors.New("no api listener was handed over")
	}
	if u.linkLn == nil && (u.Cfg.Redis != "" || u.Cfg.MemStore != nil) {
		return errors.New("no cluster link listener was handed over")
	}
	// The conns first, the cluster after: the directory starts with only a heartbeat (the
	// names are in Redis under this node id already) and re-syncs, making Redis hold exactly
	// what this node holds, in the background once it serves (Server.TakeOver); it must know
	// the adopted names by then, or that re-sync would take the users out of Redis.
	if err := u.adoptH2(t.H2, now); err != nil { // h2.go
		return err
	}
	var err error
	if u.Cluster, err = mesh.StartCluster(u.Mesh); err != nil {
		return err
	}
	u.Idem = u.Cluster.Idem
	u.Policy.CountAdopted(now) // userpolicy/admission.go
	return u.adoptQoS(t, now)
}

func (u *Upgrader) adoptListener(tl *handoff.TakenListener) error {
	fd := tl.FD
	tl.FD = -1
	if tl.Tag == listenerLink {
		f := os.NewFile(uintptr(fd), "cluster-link")
		ln, err := net.FileListener(f) // a duplicate
		f.Close()
		u.linkLn = ln
		return err
	}
	var addr net.Addr
	var err error
	switch {
	case tl.TLS && u.TLS == nil:
		return errors.New("a TLS listener was handed over; this process has no --tls-listen")
	case tl.TLS:
		addr, err = u.Eng.AdoptTLSListener(fd, int(tl.Tag), u.TLS)
		u.Taken.TLS = addr
	default:
		addr, err = u.Eng.AdoptListener(fd, int(tl.Tag))
		if tl.Tag == edge.ListenerAPI {
			u.Taken.API = addr
		} else {
			u.Taken.Edge = addr
		}
	}
	return err
}

// adoptConn re-creates a handed-over connection's state: a stream goes back into the table
// and the directory under its old key, without a registered frame; a request connection
// waits for its next request.
func (ls *Loop) adoptConn(r *handoff.Conn, now time.Time) {
	h := engine.Handle(r.Handle)
	c := ls.Conn(h)
	*c = edge.ConnState{H: h, Listener: r.Listener}
	c.Mode = edge.ConnMode(r.Mode)
	s := ls.u
	if s.KeepsPeer(int(r.Listener)) {
		ls.Peers[h] = r.Peer
	}
	if r.Listener == edge.ListenerEdge {
		s.EdgeConns.Add(1)
		if ip, ok := ls.Peers[h]; ok {
			s.PerIP.Acquire(ip)
		}
	}
	if c.Mode == edge.ModeH2 {
		c.At = ls.lastFrame(r.LastFrameMs) // its codec and streams come next (adoptH2)
		return
	}
	if c.Mode != edge.ModeStream {
		c.Mode = edge.ModeRequest
		ls.SetTimer(c, edge.TimerIdle, now.Add(edge.KeepAliveIdle))
		return
	}
	ls.adoptSub(conntable.ConnSub(conntable.Handle(h)), &c.SubState, r, now)
}

// adoptSub re-creates subscriber sub (an HTTP/1.x conn's, or an HTTP/2 stream's) from its
// record: its key, framing, cursor, heartbeat rhythm and lifetime, in the table under its
// names.
func (ls *Loop) adoptSub(sub conntable.Sub, c *edge.SubState, r *handoff.Conn, now time.Time) {
	c.Format, c.Minor, c.Origin, c.Cursor = push.Format(r.Format), r.Minor, r.Origin, r.Cursor
	c.At = ls.lastFrame(r.LastFrameMs)
	c.Timer = ls.ImportLife(r.AgeEndMs, r.ExpiresMs, r.Refreshed, now)
	keys, i := ls.KeysOf(sub)
	keys.Set(i, sub, r.Random)
	ls.Subscribers.Add(1)
	c.Subscribed = true
	if r.HasUser && len(r.User) > 0 {
		ls.adoptJoin(sub, c, conntable.Users, r.User)
		c.HasUser = true
	}
	for _, t := range r.Topics {
		ls.adoptJoin(sub, c, conntable.Topics, t)
	}
	if len(r.Allowed) > 0 || r.AnyTopic {
		id := auth.Identity{AnyTopic: r.AnyTopic, Topics: make([]string, len(r.Allowed))}
		for i, p := range r.Allowed {
			id.Topics[i] = string(p)
		}
		ls.KeepAllowed(sub, &id)
	}
	if c.HasUser && ls.u.Cfg.Redis != "" {
		// QoS 1 pushes peers forwarded during the handoff were refused and stored in Redis:
		// the stream holds its live messages until the replay after go reads them
		// (mesh/resync.go), as a reconnecting stream would.
		ls.HoldAdopted(engine.Handle(sub))
	}
}

// lastFrame is the stamp of a handed-over last frame: the heartbeat keeps its rhythm, from no
// earlier than this process's start (stamps count from it).
func (ls *Loop) lastFrame(ms int64) edge.Stamp {
	last := time.UnixMilli(ms)
	if last.Before(ls.u.Started) {
		last = ls.u.Started
	}
	return ls.u.StampOf(last)
}

// adoptJoin is join before the cluster exists: the first connection of a name is noted for
// MirrorAdopted.
func (ls *Loop) adoptJoin(sub conntable.Sub, c *edge.SubState, g conntable.Group, name []byte) {
	m, first := ls.u.Table.JoinFirst(g, name, sub)
	ls.AddMember(c, m)
	if first {
		up := ls.u
		up.namesMu.Lock()
		up.names = append(up.names, adoptedName{g: g, name: string(name)})
		up.namesMu.Unlock()
	}
}

// MirrorAdopted enters the names the adopted conns hold in a directory not started yet.
func (u *Upgrader) MirrorAdopted(dir cluster.Directory) {
	for _, n := range u.names {
		if n.g == conntable.Users {
			dir.AddUser(n.name)
		} else {
			dir.AddTopic(n.name)
		}
	}
	u.names = nil
}

// sendLinkListener hands over the cluster link listener: the node keeps its link address, and
// peers' links, which end with the old process, dial into its accept queue meanwhile.
func (u *Upgrader) sendLinkListener(snd *handoff.Sender) error {
	tl, ok := u.Cluster.Ln.(*net.TCPListener)
	if !ok {
		return nil // standalone: no link listener
	}
	f, err := tl.File() // a duplicate, closed once sent
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := f.SyscallConn() // not f.Fd(): that would make the shared socket blocking
	if err != nil {
		return err
	}
	r := handoff.Record{Kind: handoff.KindListener, Listener: handoff.Listener{Tag: listenerLink}}
	if cerr := rc.Control(func(fd uintptr) { err = snd.Add(&r, int(fd)) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	return snd.Flush() // f closes at return: its descriptor must be out first
}
