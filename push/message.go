package push

// Message is one published push as the stream formats see it: what every
// frame of every format is encoded from. The glue's pooled, reference-counted
// message embeds it (edge/message.go); its byte slices are the message's
// own buffers, read-only once published.
type Message struct {
	Seq    uint64 // node-wide increasing: the message id and the long-poll cursor
	TimeMs int64  // unix ms when the node took the publish
	Expiry int64  // unix ms after which a stored copy is dropped
	QoS    uint8
	JSON   bool // Data is embedded as JSON (compacted, json.go) rather than as a JSON string

	ID          []byte // decimal Seq
	To          []byte // the address as published: "topic:news" (address.go)
	Event       []byte
	ContentType []byte
	Data        []byte
}
