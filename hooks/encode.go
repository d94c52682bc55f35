package hooks

import (
	"strconv"
	"time"

	"github.com/pushwire/pushwire/httpcodec"
)

// The event types, as they appear in "type". They need no JSON escaping.
const (
	typeConnect    = "connect"
	typeDisconnect = "disconnect"
)

// appendEvent appends one NDJSON line to dst:
//
//	{"type":"connect","conn":"<conn>","user":"<user>","node":<nodeJSON>,"time":<unix ms>}\n
//
// "user" is left out when user is empty. nodeJSON is the node id already encoded as a JSON
// string (the same for every event, so it is encoded once). AppendJSONString escapes every
// control byte, so the only '\n' in the line is the last one: the sender cuts batches at '\n'.
func appendEvent(dst []byte, typ string, conn, user, nodeJSON []byte, at time.Time) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","conn":`...)
	dst = httpcodec.AppendJSONString(dst, conn)
	if len(user) > 0 {
		dst = append(dst, `,"user":`...)
		dst = httpcodec.AppendJSONString(dst, user)
	}
	dst = append(dst, `,"node":`...)
	dst = append(dst, nodeJSON...)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, at.UnixMilli(), 10)
	return append(dst, '}', '\n')
}
