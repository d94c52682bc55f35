// Package route is where a push goes: to this node's subscribers (Resolver)
// and to the other nodes that must deliver it (Router, SPEC §8).
//
// The Resolver is the one path from a push to this node's subscribers, for a
// local publish and for a push taken from a peer alike: it resolves the
// target (the conn-key lookup, the table's members), keeps the message for
// later readers (the user's and topic's store.Recent) and fans it out through
// a Fanout.
//
// The Router takes a publish's pushes to the other nodes. For each push it
// keeps a QoS 1 user message first (through the edge's mailbox), looks the
// target up in the cluster directory, forwards it over the node links with
// every other push of the same job bound for that node, and adds up what each
// node answered (SPEC §4: delivered, nodes, the nodes not reached and why).
// All of it runs on the router's workers (Pool), so no event loop ever waits
// on Redis or a peer. Its Take is the other direction: a push a peer
// forwarded here, resolved and fanned out by the Resolver.
//
// It works for the edge without importing it: the pushes are the edge's own
// messages (Message), and what it asks of the edge is given to New and
// NewResolver: storing a QoS 1 message, looking up a conn key, building a
// peer's push's message, and delivering (Fanout: the publishing loop's
// writes and hand-overs, or a peer push's hand-overs to every loop).
package route
