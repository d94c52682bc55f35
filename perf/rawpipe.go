package perf

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"time"
)

// rawPipe is a lean pipelined HTTP/1.1 publisher on one connection: it writes a window of
// requests with one write, then reads their answers in order. fasthttp.PipelineClient hands
// every request through channels and goroutines, which costs ~7 µs of client CPU per
// message here, as much as the server under test spends; this costs ~1 µs, so a server
// faster than Nchan is not hidden behind its own load generator.
type rawPipe struct {
	t    Target
	conn net.Conn
	r    *bufio.Reader
	out  []byte
}

func dialRawPipe(t Target, timeout time.Duration) (*rawPipe, error) {
	c, err := net.DialTimeout("tcp", t.API, timeout)
	if err != nil {
		return nil, err
	}
	return &rawPipe{t: t, conn: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// add appends one POST to the window.
func (p *rawPipe) add(path []byte, contentType string, body []byte) {
	p.out = append(p.out, "POST "...)
	p.out = append(p.out, path...)
	p.out = append(p.out, " HTTP/1.1\r\nHost: "...)
	p.out = append(p.out, p.t.API...)
	p.out = append(p.out, "\r\nContent-Type: "...)
	p.out = append(p.out, contentType...)
	if p.t.Kind == KindCentrifugo {
		p.out = append(p.out, "\r\nX-API-Key: "+CentrifugoAPIKey...)
	}
	p.out = append(p.out, "\r\nContent-Length: "...)
	p.out = appendUint(p.out, uint64(len(body)))
	p.out = append(p.out, "\r\n\r\n"...)
	p.out = append(p.out, body...)
}

// flush writes the window and empties it.
func (p *rawPipe) flush(deadline time.Time) error {
	_ = p.conn.SetDeadline(deadline)
	_, err := p.conn.Write(p.out)
	p.out = p.out[:0]
	return err
}

// readResponse reads one answer; body is valid until the next call.
func (p *rawPipe) readResponse(body *[]byte) (status int, err error) {
	line, err := p.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, ErrBadHead
	}
	code, n := parseUint(line[9:12])
	if n != 3 {
		return 0, ErrBadHead
	}
	length, chunked := -1, false
	for {
		line, err = p.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			v, n := parseUint(value)
			if n != len(value) || n == 0 {
				return 0, ErrBadHead
			}
			length = int(v)
		case bytes.EqualFold(name, hdrTE):
			chunked = bytes.Contains(bytes.ToLower(value), tokChunked)
		}
	}
	*body = (*body)[:0]
	switch {
	case chunked:
		err = p.readChunked(body)
	case length > 0:
		*body = append(*body, make([]byte, length)...)
		_, err = io.ReadFull(p.r, *body)
	case length < 0:
		err = errors.New("perf: publish answer without length")
	}
	return int(code), err
}

func (p *rawPipe) readChunked(body *[]byte) error {
	for {
		line, err := p.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line, _, _ = bytes.Cut(line, []byte(";")) // chunk extensions carry nothing we need
		size := 0
		for _, c := range bytes.TrimSpace(line) {
			switch {
			case c >= '0' && c <= '9':
				size = size<<4 | int(c-'0')
			case c >= 'a' && c <= 'f':
				size = size<<4 | int(c-'a'+10)
			case c >= 'A' && c <= 'F':
				size = size<<4 | int(c-'A'+10)
			default:
				return ErrBadChunk
			}
		}
		start := len(*body)
		*body = append(*body, make([]byte, size+2)...) // data + CRLF
		if _, err := io.ReadFull(p.r, (*body)[start:]); err != nil {
			return err
		}
		*body = (*body)[:start+size]
		if size == 0 {
			return nil // the CRLF just read was the blank line after the last chunk (no trailers)
		}
	}
}

func (p *rawPipe) close() { p.conn.Close() }
