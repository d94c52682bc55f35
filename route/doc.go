// Package route takes a publish's pushes to the other nodes that must
// deliver them (SPEC §8): the cross-node router. For each push it keeps a
// QoS 1 user message first (through the edge's mailbox), looks the target up
// in the cluster directory, forwards it over the node links with every other
// push of the same job bound for that node, and adds up what each node
// answered (SPEC §4: delivered, nodes, the nodes not reached and why). All
// of it runs on the router's workers (Pool), so no event loop ever waits on
// Redis or a peer.
//
// Where a push goes on this node is the Resolver's: it resolves the target
// to this node's subscribers (the conn-key lookup, the table's members, the
// user's and topic's store.Recent) and fans the push out through a Fanout, for
// a local publish and for a push taken from a peer (Take) alike.
//
// It works for the edge without importing it: the pushes are the edge's own
// messages (Message), and what it asks of the edge is given to New and
// NewResolver: storing a QoS 1 message, looking up a conn key, building a
// peer's push's message, and delivering (Fanout: the publishing loop's
// writes and hand-overs, or a peer push's hand-overs to every loop).
package route
