package h2

// EventKind names what Feed stopped to report.
type EventKind uint8

const (
	// EventNone: Feed used up its input with nothing to report.
	EventNone EventKind = iota
	// EventReady: the handshake is done (client preface and SETTINGS in, our
	// SETTINGS acknowledged): the loop stops the header timeout.
	EventReady
	// EventRequest: a request's header block arrived on Stream; Conn.Request
	// holds its views. EndStream says the request is complete (no body).
	EventRequest
	// EventData: body bytes of Stream's request in Data (a view into Feed's
	// input), possibly none; EndStream marks the request's end.
	EventData
	// EventReset: Stream is gone: the peer sent RST_STREAM with Code, or the
	// peer broke the protocol on it and we sent RST_STREAM with Code. The
	// caller drops what it holds for the stream; writes to it now fail.
	EventReset
	// EventWindow: a WINDOW_UPDATE opened Stream's window (0: the
	// connection's); queued DATA it let out is already in dst.
	EventWindow
	// EventPingAck: the peer answered one of our PINGs.
	EventPingAck
	// EventGoAway: the peer sent GOAWAY with Code: it opens no more streams.
	EventGoAway
	// EventConnError: the peer broke the protocol or a budget; dst ends with
	// our GOAWAY carrying Code. The loop writes dst and closes.
	EventConnError
)

// Event is one thing Feed reports. Data is valid until the next Feed.
type Event struct {
	Kind      EventKind
	EndStream bool
	Code      ErrCode
	Stream    uint32
	Data      []byte
}
