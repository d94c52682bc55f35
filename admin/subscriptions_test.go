package admin

import (
	"errors"
	"testing"

	"github.com/pushwire/pushwire/cluster"
	"github.com/pushwire/pushwire/links"
)

// TestMergeChanges: the status and body of a /subscriptions/ answer from
// the nodes' answers: streams found win (200, naming the forbidden ones);
// only forbidden streams are 403; nothing found is 404, or 503 when a node
// that may hold some did not answer; a node gone is named but not a 503.
func TestMergeChanges(t *testing.T) {
	ans := func(node string, entries ...links.NameCount) nodeAnswer {
		a := links.QueryAnswer{Topics: entries}
		for _, e := range entries {
			if e.Count != links.OutcomeForbidden {
				a.Count++
			}
		}
		return nodeAnswer{node: node, a: a}
	}
	silent := nodeAnswer{node: "c", err: errors.New("context deadline exceeded")}
	gone := nodeAnswer{node: "d", err: links.ErrNodeGone}
	dead := nodeAnswer{node: "e", err: cluster.ErrUnknownNode}
	for _, tc := range []struct {
		name    string
		answers []nodeAnswer
		status  int
		body    string
	}{
		{"changed and same", []nodeAnswer{ans("a", links.NameCount{Name: "k2.a", Count: links.OutcomeChanged}), ans("b", links.NameCount{Name: "k1.b", Count: links.OutcomeSame})},
			200, `{"connections":2,"changed":1,"conns":["k1.b","k2.a"]}`},
		{"some forbidden", []nodeAnswer{ans("a", links.NameCount{Name: "k1.a", Count: links.OutcomeChanged}, links.NameCount{Name: "k2.a", Count: links.OutcomeForbidden}), silent},
			200, `{"connections":1,"changed":1,"conns":["k1.a"],"forbidden":["k2.a"],"unreachable":["c"]}`},
		{"all forbidden", []nodeAnswer{ans("a", links.NameCount{Name: "k1.a", Count: links.OutcomeForbidden})},
			403, `{"connections":0,"changed":0,"conns":[],"forbidden":["k1.a"],"error":"a topic is not allowed for this subscriber by its auth or --topic-acl; force=1 takes it all the same"}`},
		{"none, a node silent", []nodeAnswer{ans("a"), silent, dead},
			503, `{"connections":0,"changed":0,"conns":[],"unreachable":["c"],"error":"no node that may hold the streams answered"}`},
		{"none, a node gone", []nodeAnswer{ans("a"), gone, dead},
			404, `{"connections":0,"changed":0,"conns":[],"unreachable":["d"],"error":"no live stream with that key or of that user (long-polls have no lasting subscription)"}`},
	} {
		if status, body := mergeChanges(tc.answers); status != tc.status || string(body) != tc.body {
			t.Errorf("%s: %d %s; want %d %s", tc.name, status, body, tc.status, tc.body)
		}
	}
}
