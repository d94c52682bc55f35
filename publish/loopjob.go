package publish

import (
	"github.com/bytedance/sonic/decoder"
)

// publishState is what the publishing request a loop serves has produced:
// its results so far and the pushes other nodes must take, which the router
// finishes (route.go) before the request is answered. Only the loop touches
// it; the job is handed to the router whole.
type publishState struct {
	job         *RouteJob        // pushes of the request being served that other nodes must take
	resultIndex int              // which result of the request publish is making
	results     []Result         // a batch's results
	keyed       *KeyedCall       // the keyed request being published, its claims made (idempotency.go)
	batchLine   batchLine        // the batch line being decoded
	dec         *decoder.Decoder // decodes batch lines, reset for each
}
