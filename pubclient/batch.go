package pubclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	"github.com/valyala/fasthttp"
)

// BatchMessage is one line of a batch publish (POST /pub).
type BatchMessage struct {
	// To is the address, as Message.To.
	To string
	// Data is any JSON value, delivered as is.
	Data json.RawMessage
	// Event names the message.
	Event string
	// QoS 1 stores the message for an offline user until acknowledged.
	QoS int
	// TTL is how long a stored message waits (whole seconds; 0: the default).
	TTL time.Duration
	// IdempotencyKey is the line's "idempotency_key".
	IdempotencyKey string
}

// PublishBatch sends msgs in one POST /pub, written to the connection line by
// line as NDJSON (chunked, no copy of the whole body), and calls each with
// every line's answer, in order, as its result line is read: a Result and nil
// for a 200 or 202 line, a *StatusError otherwise.
//
// It returns an error when the batch as a whole failed (the node could not be
// reached, or answered it with an error status such as 413 past
// --max-batch-bytes): then the lines not yet answered were not answered.
// The batch is retried as a Publish is, when every line carries an
// idempotency key or RetryWithoutKey is set; a retry sends only the lines
// not answered yet (a stream that broke half-way answered the others). each runs on the calling goroutine. ctx is checked between
// result lines; a request in flight ends within Config.Timeout.
func (c *Client) PublishBatch(ctx context.Context, msgs []BatchMessage, each func(i int, r Result, err error)) error {
	if len(msgs) == 0 {
		return nil
	}
	keyed := true
	for i := range msgs {
		if msgs[i].IdempotencyKey == "" {
			keyed = false
			break
		}
	}
	answered := 0 // lines whose answer each has seen, over every attempt
	r := c.call(ctx, keyed, true, func(nd *node, deadline time.Time) reply {
		return c.batchOnce(ctx, nd, deadline, msgs, &answered, each)
	})
	if err := r.error(); err != nil {
		return err
	}
	if answered < len(msgs) {
		return errors.New("pubclient: batch answered " + strconv.Itoa(answered) + " of " + strconv.Itoa(len(msgs)) + " lines")
	}
	return nil
}

// batchOnce sends the lines from *answered on (the earlier ones were answered
// in an earlier attempt) in one POST /pub to nd and reads their result lines.
func (c *Client) batchOnce(ctx context.Context, nd *node, deadline time.Time, msgs []BatchMessage, answered *int, each func(int, Result, error)) reply {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("/pub")
	req.Header.SetHost(nd.addr)
	req.Header.SetContentType("application/x-ndjson")
	c.setAuth(req)
	base := *answered
	rest := msgs[base:]
	req.SetBodyStreamWriter(func(w *bufio.Writer) {
		var line []byte
		for i := range rest {
			line = appendBatchLine(line[:0], &rest[i])
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	})
	resp.StreamBody = true
	if err := nd.hc.DoDeadline(req, resp, deadline); err != nil {
		return reply{err: err}
	}
	defer resp.CloseBodyStream()
	r := reply{status: resp.StatusCode()}
	if r.status != 200 {
		parseAnswer(&r, resp.Body())
		return r
	}
	rd := bufio.NewReaderSize(resp.BodyStream(), 4096)
	for i := range rest {
		if err := ctx.Err(); err != nil {
			return reply{err: err}
		}
		text, err := readLine(rd)
		for err == nil && len(text) == 0 {
			text, err = readLine(rd)
		}
		if err != nil {
			return reply{err: err}
		}
		res, err := parseLine(text, nd.addr)
		*answered = base + i + 1
		each(base+i, res, err)
	}
	return r
}

// readLine reads one result line, however long.
func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = rd.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil && !(err == io.EOF && len(line) > 0) {
		return nil, err
	}
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	return line, nil
}

// parseLine reads one batch result line: {"status":200,"id":..} or
// {"status":404,"error":".."}.
func parseLine(text []byte, addr string) (Result, error) {
	var a answer
	if err := sonic.Unmarshal(text, &a); err != nil || a.Status == 0 {
		return Result{}, errors.New("pubclient: batch result line is not a JSON answer with a status: " + truncate(text))
	}
	if a.Status != 200 && a.Status != 202 {
		return Result{}, &StatusError{Status: a.Status, Message: a.Error, Addr: addr}
	}
	return a.Result, nil
}

// appendBatchLine appends m as one NDJSON line.
func appendBatchLine(dst []byte, m *BatchMessage) []byte {
	dst = append(dst, `{"to":`...)
	dst = appendJSONString(dst, m.To)
	dst = append(dst, `,"data":`...)
	if len(m.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Data...)
	}
	if m.Event != "" {
		dst = append(dst, `,"event":`...)
		dst = appendJSONString(dst, m.Event)
	}
	if m.QoS != 0 {
		dst = append(dst, `,"qos":`...)
		dst = strconv.AppendInt(dst, int64(m.QoS), 10)
	}
	if m.TTL > 0 {
		dst = append(dst, `,"ttl":`...)
		dst = strconv.AppendInt(dst, int64(m.TTL/time.Second), 10)
	}
	if m.IdempotencyKey != "" {
		dst = append(dst, `,"idempotency_key":`...)
		dst = appendJSONString(dst, m.IdempotencyKey)
	}
	return append(dst, "}\n"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\\ufffd"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(dst, '"')
}
