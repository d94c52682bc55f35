package edge

// reqScratch is the scratch of the one request a loop serves at a time:
// what was parsed from it and the answer being built. Every field is valid
// only while that request is handled, and reused (truncated, never freed) by
// the next, so serving a request allocates nothing. Only the loop touches it.
type reqScratch struct {
	Q     QueryParams // the request's parameters
	Query []byte      // their decoded bytes
	To    []byte      // the address of the push being published
	Out   []byte      // response being built
	Frame []byte      // per-connection frame being built
	Lost  uint64      // a long-poll's QoS 1 lost mark read from Redis, while its answer is made (subscribe/gap.go)
}
