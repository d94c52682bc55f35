package publish

import (
	"bytes"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
)

// Idempotency keys (SPEC §4): what a key is and how a batch carries them.
// The claims and answers kept under them are the glue's
// (publish/idempotency.go).

// KeyMax is the longest key accepted (SPEC §4).
const KeyMax = 128

// Hold bounds how long a claimed key waits for its first answer: a
// publish's lookups, forwards and QoS store take far less. A node that dies
// holding a claim frees the key after it, so a retry is delivered then.
const Hold = 10 * time.Second

// BatchKeyField is how a batch body that carries keys is told from one that
// does not, by one scan of the body. A line whose field name is escaped
// ("idempotency\u005fkey") escapes the scan: in a cluster it answers 400.
var BatchKeyField = []byte(`"idempotency_key"`)

// ValidKey reports 1-128 URL-safe characters (RFC 3986 unreserved).
func ValidKey(k []byte) bool {
	if len(k) == 0 || len(k) > KeyMax {
		return false
	}
	for _, c := range k {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
		default:
			return false
		}
	}
	return true
}

const BadKey = "Idempotency-Key must be 1-128 URL-safe characters (A-Z a-z 0-9 - _ . ~)"

// BatchKeys finds each line's key, as publishBatch numbers lines; lines
// that are not JSON or whose key is not valid get none (they answer 400).
func BatchKeys(body []byte) []string {
	var keys []string
	var kl struct {
		Key string `json:"idempotency_key"`
	}
	for len(body) > 0 {
		var line []byte
		line, body = CutLine(body)
		if len(line) == 0 {
			continue
		}
		kl.Key = ""
		if sonic.Unmarshal(line, &kl) != nil || !ValidKey(unsafe.Slice(unsafe.StringData(kl.Key), len(kl.Key))) {
			kl.Key = ""
		}
		keys = append(keys, kl.Key)
	}
	return keys
}

// CutLine returns the first line of body, blanks trimmed, and the rest.
func CutLine(body []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(body, []byte("\n"))
	return bytes.TrimSpace(line), rest
}
