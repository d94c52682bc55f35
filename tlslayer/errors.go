package tlslayer

import (
	"errors"
	"strconv"
)

// Alert descriptions (RFC 8446 §6) the record layer sends or names.
const (
	alertCloseNotify       = 0
	alertUnexpectedMessage = 10
	alertBadRecordMAC      = 20
	alertRecordOverflow    = 22
	alertHandshakeFailure  = 40
	alertIllegalParameter  = 47
	alertDecodeError       = 50
	alertProtocolVersion   = 70
	alertInternalError     = 80
	alertNoRenegotiation   = 100
)

// ErrNotTLS is the handshake error for a connection whose first bytes are not a TLS
// handshake record carrying a ClientHello (plain HTTP sent to the TLS port, a scanner).
var ErrNotTLS = errors.New("tlslayer: first bytes are not a TLS ClientHello")

// ErrSeqLimit closes a TLS 1.2 connection whose write sequence number reached its limit
// (TLS 1.2 has no rekeying; TLS 1.3 sends a KeyUpdate well before its limit).
var ErrSeqLimit = errors.New("tlslayer: record sequence number limit reached")

// ErrClosed is returned by Seal after the connection failed or was closed.
var ErrClosed = errors.New("tlslayer: connection closed")

// AlertError is a fatal alert the peer sent (anything but close_notify).
type AlertError uint8

func (a AlertError) Error() string {
	return "tlslayer: peer sent alert " + alertName(uint8(a))
}

// LocalError is a protocol violation by the peer that the record layer detected; Alert is
// the alert to send before closing (AppendAlert).
type LocalError struct {
	Alert uint8
	What  string
}

func (e *LocalError) Error() string {
	return "tlslayer: " + e.What + " (alert " + alertName(e.Alert) + ")"
}

func localErr(alert uint8, what string) error { return &LocalError{Alert: alert, What: what} }

// AlertFor returns the alert to send for err, and whether there is one: a LocalError's
// alert; nothing for an alert the peer sent or a clean close.
func AlertFor(err error) (uint8, bool) {
	var le *LocalError
	if errors.As(err, &le) {
		return le.Alert, true
	}
	return 0, false
}

func alertName(a uint8) string {
	switch a {
	case alertCloseNotify:
		return "close_notify"
	case alertUnexpectedMessage:
		return "unexpected_message"
	case alertBadRecordMAC:
		return "bad_record_mac"
	case alertRecordOverflow:
		return "record_overflow"
	case alertHandshakeFailure:
		return "handshake_failure"
	case alertIllegalParameter:
		return "illegal_parameter"
	case alertDecodeError:
		return "decode_error"
	case alertProtocolVersion:
		return "protocol_version"
	case alertInternalError:
		return "internal_error"
	case alertNoRenegotiation:
		return "no_renegotiation"
	}
	return strconv.Itoa(int(a))
}
