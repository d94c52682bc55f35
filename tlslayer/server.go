package tlslayer

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"sync"
	"time"
)

// Server is the TLS configuration shared by a listener's connections.
type Server struct {
	base   *tls.Config
	protos []string

	mu         sync.Mutex // guards the ticket keys' rotation
	ticketKeys [][32]byte // newest first
	nextRotate time.Time
	period     time.Duration
	keep       int
}

// Options configure a Server.
type Options struct {
	Certs *Certs
	// NextProtos is the ALPN list, in preference order; nil offers http/1.1 only (h2 comes
	// with the HTTP/2 listener).
	NextProtos []string
	// TicketKeyPeriod is how often a new session ticket key starts encrypting tickets; a
	// ticket stays valid for TicketKeys periods. 0 = 6h.
	TicketKeyPeriod time.Duration
	// TicketKeys is how many keys are kept to decrypt tickets; 0 = 4 (a day at 6h).
	TicketKeys int
}

// cipherSuites12 are the TLS 1.2 suites offered: ECDHE with an AEAD, nothing else (TLS 1.3
// suites are not configurable and are all AEAD).
var cipherSuites12 = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// NewServer makes a Server: TLS 1.2 and 1.3, AEAD suites, ALPN, session tickets with rotated
// keys, no renegotiation (crypto/tls never renegotiates as a server), no 0-RTT (crypto/tls
// does not accept early data).
func NewServer(o Options) (*Server, error) {
	if o.Certs == nil || o.Certs.Current() == nil {
		return nil, errors.New("tlslayer: no certificate")
	}
	if o.NextProtos == nil {
		o.NextProtos = []string{"http/1.1"}
	}
	if len(o.NextProtos) > 255 {
		return nil, errors.New("tlslayer: too many ALPN protocols")
	}
	if o.TicketKeyPeriod <= 0 {
		o.TicketKeyPeriod = 6 * time.Hour
	}
	if o.TicketKeys <= 0 {
		o.TicketKeys = 4
	}
	s := &Server{protos: o.NextProtos, period: o.TicketKeyPeriod, keep: o.TicketKeys}
	s.base = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		MaxVersion:     tls.VersionTLS13,
		CipherSuites:   cipherSuites12,
		NextProtos:     o.NextProtos,
		GetCertificate: o.Certs.get,
	}
	s.base.GetConfigForClient = s.configForClient
	s.rotate(time.Now())
	return s, nil
}

// Config returns the shared tls.Config (read only): what a goroutine-per-connection
// crypto/tls listener would use, for baselines and tests.
func (s *Server) Config() *tls.Config { return s.base }

// configForClient gives each handshake a clone of the config whose key log goes to that
// handshake only: the record layer's keys come from it.
func (s *Server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	hc, ok := hello.Conn.(*hsConn)
	if !ok {
		return nil, nil // a plain crypto/tls connection using Config()
	}
	s.mu.Lock()
	s.rotateDue(time.Now())
	s.mu.Unlock()
	cfg := s.base.Clone()
	cfg.GetConfigForClient = nil
	cfg.KeyLogWriter = hc.h
	// A resumed TLS 1.2 handshake logs no master secret: take it from the ticket.
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		st, err := cfg.DecryptTicket(identity, cs)
		if st != nil && err == nil {
			hc.h.ticketSecret = sessionSecret(st)
		}
		return st, err
	}
	return cfg, nil
}

// sessionSecret returns the secret in a session state: a TLS 1.2 master secret, a TLS 1.3
// resumption PSK. crypto/tls keeps it unexported; its serialisation (SessionState.Bytes)
// starts with version (2), type (1), cipher_suite (2), created_at (8), then the secret with a
// one-byte length.
func sessionSecret(st *tls.SessionState) []byte {
	b, err := st.Bytes()
	if err != nil || len(b) < 14 || len(b) < 14+int(b[13]) {
		return nil
	}
	return b[14 : 14+int(b[13])]
}

// rotateDue rotates the ticket keys for every period that began by now (rotation happens at
// handshakes, so after a quiet spell several are due: a key must still stop decrypting
// TicketKeys periods after it started, however few handshakes came); s.mu must be held.
func (s *Server) rotateDue(now time.Time) {
	for i := 0; i < s.keep && !now.Before(s.nextRotate); i++ {
		s.rotate(s.nextRotate)
	}
	if !now.Before(s.nextRotate) {
		s.rotate(now) // more than TicketKeys periods went by: every older key is gone
	}
}

// rotate starts a new ticket key at start (random: a ticket of another process, or of an
// earlier run, never decrypts); s.mu must be held (or s not yet shared).
func (s *Server) rotate(start time.Time) {
	var k [32]byte
	rand.Read(k[:])
	s.ticketKeys = append([][32]byte{k}, s.ticketKeys...)
	if len(s.ticketKeys) > s.keep {
		s.ticketKeys = s.ticketKeys[:s.keep]
	}
	s.base.SetSessionTicketKeys(s.ticketKeys)
	s.nextRotate = start.Add(s.period)
}

// NegotiatedProtocol returns the ALPN protocol c agreed on, "" for none.
func (s *Server) NegotiatedProtocol(c *Conn) string {
	if c.alpn == 0 {
		return ""
	}
	return s.protos[c.alpn-1]
}
