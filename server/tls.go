package server

import (
	"errors"
	"fmt"
	"net"

	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/tlslayer"
)

// The edge over TLS (SPEC §11): --tls-listen is a second edge listener, with the edge's
// tag, whose connections the engine runs through tlslayer; everything above the engine is
// the same as in plaintext. SIGHUP reloads the certificate and key (ReloadTLS).

// edgeTLS is the TLS edge's state.
type edgeTLS struct {
	certs *tlslayer.Certs
	srv   *tlslayer.Server
	addr  net.Addr
}

// load reads the certificate and key at New, so that a bad file stops the start with an
// error naming it.
func (t *edgeTLS) load(cfg Config) error {
	if cfg.TLSListen == "" {
		return nil
	}
	certs, err := tlslayer.LoadCerts(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	// h2 first: a client that speaks both gets HTTP/2 (h2edge/conn.go).
	srv, err := tlslayer.NewServer(tlslayer.Options{Certs: certs, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return err
	}
	t.certs, t.srv = certs, srv
	return nil
}

// listen opens the TLS edge listener, if configured.
func (t *edgeTLS) listen(s *Server) error {
	if t.srv == nil {
		return nil
	}
	addr, err := s.Eng.ListenTLS(s.Cfg.TLSListen, edge.ListenerEdge, t.srv)
	if err != nil {
		return fmt.Errorf("--tls-listen %s: %w", s.Cfg.TLSListen, err)
	}
	t.addr = addr
	return nil
}

// TLSAddr is the bound TLS edge listener address; nil without --tls-listen.
func (s *Server) TLSAddr() net.Addr { return s.tls.addr }

// ReloadTLS reads --tls-cert and --tls-key again: new handshakes use the new pair, held
// connections are untouched. On an error the pair in use stays (and the error says why).
func (s *Server) ReloadTLS() error {
	if s.tls.certs == nil {
		return errors.New("no --tls-listen to reload")
	}
	return s.tls.certs.Reload()
}

// addrString is a.String(), "" for nil.
func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
