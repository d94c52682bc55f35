// Package h2 is the server side of an HTTP/2 connection (RFC 9113, HPACK
// per RFC 7541) without I/O, goroutines or timers, for pushwire's reactor:
// the loop that owns a connection feeds Conn the bytes it read and writes
// out the bytes Conn appended to the loop's buffer. It sits next to
// httpcodec (the HTTP/1.x codec) as its own package because it carries its
// own frame, stream and HPACK vocabulary and the x/net/http2/hpack
// dependency, which the HTTP/1.x side should not.
//
// # Driving a connection
//
// The plaintext edge calls DetectPreface on a new connection's first bytes
// (h2c with prior knowledge, RFC 9113 §3.3); the TLS edge knows from ALPN
// "h2". Then, on the connection's loop:
//
//	c := h2.NewConn(h2.Config{MaxStreams: 100, MaxHeaderBytes: 8 << 10})
//	out = c.Start(out)                // our SETTINGS: write them at once
//	// on each read of in (the preface bytes included):
//	for {
//		var n int
//		var ev h2.Event
//		out, n, ev = c.Feed(out, in)
//		in = in[n:]
//		if ev.Kind == h2.EventNone {
//			break // in is used up; the views of the last event are released
//		}
//		switch ev.Kind {
//		case h2.EventReady: // stop the header timeout
//		case h2.EventRequest: // c.Request(): method, path, authority, headers
//		case h2.EventData: // ev.Data: body bytes of ev.Stream's request
//		case h2.EventReset: // drop the subscriber on ev.Stream
//		case h2.EventWindow: // queued DATA went into out
//		case h2.EventGoAway: // the client leaves: close when done
//		case h2.EventConnError: // write out, then close
//		}
//	}
//	// answers, at any time on the loop:
//	out, err = c.WriteHeaders(out, id, 200, fields, false)
//	out, err = c.WriteData(out, id, frame, false) // frames of many streams
//	out, err = c.Reset(out, id, h2.Cancel)        // append into one buffer
//	// write out with one write; Tick() once a second; Ping for dead peers.
//
// Views (Request, Event.Data) are valid until the next Feed; the loop calls
// Feed until it reports EventNone so that the last call gives the field
// buffer back and an idle connection holds none. Every method appends to
// the caller's buffer, so DATA for many streams of one connection leaves in
// one write, and a DATA frame costs no allocation.
//
// # Reading
//
// Feed is a resumable state machine: a frame's 9-byte header and its fixed
// fields (at most 8 bytes: PING, GOAWAY, WINDOW_UPDATE, RST_STREAM,
// PRIORITY, a SETTINGS entry, pad length and priority) are carried in the
// Conn itself across reads; payloads are never carried: DATA goes to the
// caller as views, header blocks go straight into the HPACK decoder, which
// holds at most one incomplete field (bounded by MaxHeaderBytes). Frames up
// to 16384 bytes (SETTINGS_MAX_FRAME_SIZE at its minimum) are accepted.
//
// Decoded fields are copied into a pooled buffer of MaxHeaderBytes; past it
// the request is answered 431 and the block is decoded on without being
// kept (HPACK state stays in step). We advertise SETTINGS_HEADER_TABLE_SIZE
// 0: until the client acknowledges it, it may use the initial 4096 bytes
// (the decoder then costs about 1.3 KiB after a browser's request, at most
// about 24 KiB with the table full of the smallest entries, as x/net's table
// indexes its entries in two maps; the loop's header timeout bounds how
// long, since Ready waits for the acknowledgement); after, the decoder has
// no state between blocks and is borrowed from a pool per block.
// Responses are encoded without indexing, so we keep no encoder state either.
//
// # Streams and flow control
//
// Open streams are a small slice (48 bytes each, no map). Client ids must be
// odd and increasing; reuse or going backwards is a connection error. Past
// MaxStreams a new stream is refused (RST_STREAM REFUSED_STREAM). Request
// bodies are small on push routes: the stream window we advertise is
// MaxBody and is never replenished, a declared Content-Length past it is
// answered 413 (then RST_STREAM NO_ERROR if the client is still sending),
// and DATA past it is a FLOW_CONTROL_ERROR. The connection window is given
// back as DATA is handed on.
//
// DATA is sent as far as the client's connection and stream windows allow;
// the rest waits in the stream's own queue (Queued), which the loop weighs
// against its write-buffer limit to cut a slow consumer with Reset, without
// holding the connection's other streams. When the connection window
// opens, queued streams get a frame each in turn.
//
// # Abuse
//
// Per Tick window, budgets bound streams reset by the peer or refused by us
// (rapid reset), SETTINGS, PING, and frames that carry nothing (empty DATA
// or CONTINUATION, PRIORITY, unknown types, unsolicited PING ACKs); past a
// budget the connection ends with GOAWAY ENHANCE_YOUR_CALM. A header block
// whose encoded size passes twice MaxHeaderBytes (CONTINUATION flood) ends
// it the same way. The handshake's deadline is the loop's: Ready reports
// when the preface and SETTINGS exchange is done.
package h2
