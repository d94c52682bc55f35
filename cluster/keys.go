package cluster

// Redis key names (see doc.go for the full data model). p is the configured prefix ("pw:").
// Per-node keys put the node id in a hash tag so that they share one slot on Redis Cluster;
// every other key is independent and only ever touched by single-key commands.

func keyNodes(p string) string          { return p + "nodes" }
func keyNode(p, id string) string       { return p + "n:{" + id + "}" }
func keyNodeUsers(p, id string) string  { return p + "n:{" + id + "}:u" }
func keyNodeTopics(p, id string) string { return p + "n:{" + id + "}:t" }
func keyNodeGC(p, id string) string     { return p + "n:{" + id + "}:gc" }
func keyNodeCut(p, id string) string    { return p + "n:{" + id + "}:cut" }
func keyUser(p, user string) string     { return p + "u:" + user }
func keyTopic(p, topic string) string   { return p + "t:" + topic }

// KeyUserConns is a user's conn keys, scored by when each stream began (package admit's
// per-user policy keeps them; the janitor here drops a dead node's, usercollect.go).
func KeyUserConns(p, user string) string { return p + "uc:" + user }
