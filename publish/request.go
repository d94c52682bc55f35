package publish

import (
	"bytes"
	"strconv"
	"time"

	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/push"
)

// Request is one publish request, from a single POST or a batch line. Its byte
// slices are views into the request and live only while it is handled.
type Request struct {
	Kind  push.Kind
	Name  []byte
	Event []byte
	CType []byte
	Data  []byte
	JSON  bool
	QoS   uint8
	TTL   time.Duration
}

// ParsePath reads /pub/<kind>/<name> (path starts with "/pub" and is longer:
// the api router sends no other) into p; the name is unescaped into
// scratch, which it returns grown (p.Name is a view into it). reason says
// why it cannot.
func ParsePath(p *Request, path, scratch []byte) (_ []byte, reason string) {
	rest := path[len("/pub/"):]
	if string(rest) == "all" {
		p.Kind = push.All
		return scratch, ""
	}
	kind, name, ok := bytes.Cut(rest, []byte("/"))
	if !ok || !p.SetKind(kind) || p.Kind == push.All {
		return scratch, "address must be /pub/conn/<key>, /pub/user/<id>, /pub/topic/<name> or /pub/all"
	}
	var err error
	scratch, err = httpcodec.AppendUnescape(scratch[:0], name)
	if err != nil || !push.ValidName(scratch) {
		return scratch, "the address name must be 1-256 printable bytes, percent-escaped in the path"
	}
	p.Name = scratch
	return scratch, ""
}

// SetKind sets p's address kind from its name; false when there is none such.
func (p *Request) SetKind(kind []byte) bool {
	k, ok := push.ParseKind(kind)
	p.Kind = k
	return ok
}

// ParseHeaders reads Push-Event, Push-QoS and Push-TTL; a push without
// Push-TTL lives defaultTTL (--default-ttl).
func ParseHeaders(p *Request, req *httpcodec.Request, defaultTTL time.Duration) string {
	p.Event = req.Header("Push-Event")
	if len(p.Event) > 0 && !push.ValidName(p.Event) {
		return "Push-Event must be 1-256 printable bytes without spaces"
	}
	switch qos := req.Header("Push-QoS"); string(qos) {
	case "", "0":
	case "1":
		p.QoS = 1
	default:
		return "Push-QoS must be 0 or 1"
	}
	p.TTL = defaultTTL
	if ttl := req.Header("Push-TTL"); len(ttl) > 0 {
		secs, err := strconv.ParseUint(string(ttl), 10, 32)
		if err != nil || secs == 0 {
			return "Push-TTL must be a whole number of seconds above 0"
		}
		p.TTL = time.Duration(secs) * time.Second
	}
	return ""
}
