// Package route takes a publish's pushes to the other nodes that must
// deliver them (SPEC §8): the cross-node router. For each push it keeps a
// QoS 1 user message first (through the edge's mailbox), looks the target up
// in the cluster directory, forwards it over the node links with every other
// push of the same job bound for that node, and adds up what each node
// answered (SPEC §4: delivered, nodes, the nodes not reached and why). All
// of it runs on the router's workers (Pool), so no event loop ever waits on
// Redis or a peer.
//
// It works for the edge without importing it: the pushes are the edge's own
// messages (Message), and the one thing it asks of the edge, storing a QoS 1
// message, is a function the edge gives New. Where a publish goes on its own
// node — resolving its target to connections and fanning it out — is still
// the edge's (server/resolve.go, deliver.go, take.go).
package route
