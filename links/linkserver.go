package links

import (
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/pushwire/pushwire/cluster"
)

// Handler delivers one forwarded push locally and says how it went. It runs on the link's
// reader goroutine, one push at a time per link, which is what keeps per-link order: it must
// hand work off (e.g. engine.Submit) rather than block. p and p.Data are valid only during the
// call (p is reused and Data points into the read buffer).
type Handler func(p *Push) Result

// LinkServerOptions configures a LinkServer. Zero values take the defaults named.
type LinkServerOptions struct {
	MaxFrame   int          // largest frame accepted, header included; 0 = 1 MiB
	FlushBytes int          // answers are written once this many are pending or input runs dry; 0 = 64 KiB
	Logger     *slog.Logger // nil = slog.Default()
	Query      QueryHandler // answers presence queries (query.go); nil = each is answered with an error
}

// LinkServer accepts links from peer nodes and answers their pushes.
//
// One goroutine per link reads frames, calls the handler and appends answers to a buffer that is
// written when no more input is buffered (or FlushBytes is reached): a burst of pushes costs one
// write of answers, as nats flushes clients after a read.
//
// Lock contract: mu guards ln, conns and closed.
type LinkServer struct {
	h Handler
	o LinkServerOptions

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewLinkServer returns a server that hands pushes to h.
func NewLinkServer(h Handler, o LinkServerOptions) *LinkServer {
	if o.MaxFrame <= 0 {
		o.MaxFrame = 1 << 20
	}
	if o.FlushBytes <= 0 {
		o.FlushBytes = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &LinkServer{h: h, o: o, conns: make(map[net.Conn]struct{})}
}

// Serve accepts links on ln until Close; it returns cluster.ErrClosed after Close, else the accept error.
func (s *LinkServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return cluster.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return cluster.ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return cluster.ErrClosed
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(conn)
	}
}

// Close stops accepting, closes every link and waits for their goroutines.
func (s *LinkServer) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

var errNoHello = errors.New("links: link did not start with a hello frame")

func (s *LinkServer) serveConn(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	peer, err := s.loop(conn)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.o.Logger.Debug("links: link from peer ended", "peer", peer, "remote", conn.RemoteAddr(), "err", err)
	}
}

// loop reads and answers frames until the connection ends; it returns the peer's node id.
func (s *LinkServer) loop(conn net.Conn) (peer string, err error) {
	fr := newFrameReader(conn, 64<<10, s.o.MaxFrame)
	var p Push
	var out []byte
	hello := false
	for {
		typ, body, ok, err := fr.next()
		if err != nil {
			return peer, err
		}
		if !ok {
			if len(out) > 0 {
				if _, err := conn.Write(out); err != nil {
					return peer, err
				}
				out = out[:0]
			}
			if err := fr.fill(); err != nil {
				return peer, err
			}
			continue
		}
		switch {
		case !hello:
			if typ != typeHello || len(body) < 1 || body[0] != protoVersion {
				return peer, errNoHello
			}
			peer, hello = string(body[1:]), true
		case typ == typePush:
			corr, err := decodePush(body, &p)
			if err != nil {
				return peer, err
			}
			out = appendResult(out, corr, s.h(&p))
			if len(out) >= s.o.FlushBytes {
				if _, err := conn.Write(out); err != nil {
					return peer, err
				}
				out = out[:0]
			}
		case typ == typeQuery:
			corr, q, err := decodeQuery(body)
			if err != nil {
				return peer, err
			}
			a := QueryAnswer{Err: "presence queries are not served here"}
			if s.o.Query != nil {
				a = s.o.Query(&q)
			}
			out = appendQueryAnswer(out, corr, &a)
		default:
			return peer, errBadFrame
		}
	}
}
