package server

import (
	"bytes"
	"crypto/subtle"

	"github.com/pushwire/pushwire/admin"
	"github.com/pushwire/pushwire/edge"
	"github.com/pushwire/pushwire/engine"
	"github.com/pushwire/pushwire/httpcodec"
	"github.com/pushwire/pushwire/mesh"
)

// serveAPI answers one request on the api listener: publish (SPEC §4) and
// admin (SPEC §9; the operations endpoints and presence are admin's, given
// the loop's edge.Answers).
func (ls *loopState) serveAPI(l *engine.Loop, h engine.Handle, c *edge.ConnState, req *httpcodec.Request) {
	path, method := req.Path(), string(req.Method())
	probe := string(path) == "/healthz" || string(path) == "/readyz" // load balancers carry no token (SPEC §9)
	if ls.s.Cfg.APIToken != "" && !probe && !ls.s.authorized(req.Header("Authorization")) {
		ls.AnswerError(l, h, req, 401, "the api needs Authorization: Bearer <--api-token>")
		ls.publishServed(l, h, path)
		return
	}
	switch {
	case bytes.HasPrefix(path, []byte("/pub")):
		defer ls.publishServed(l, h, path)
		if method != "POST" {
			ls.AnswerNotAllowed(l, h, req, edge.AllowPub, "use POST to publish")
			return
		}
		if !ls.s.Rates.Allow(ls.Peers[h], l.Now()) {
			ls.AnswerError(l, h, req, 429, "publish rate over --publish-rate for this client")
			return
		}
		if string(path) == "/pub" {
			ls.PublishBatch(l, h, req)
			return
		}
		ls.PublishOne(l, h, req)
	case bytes.HasPrefix(path, []byte("/debug/pprof")):
		admin.ServePprof(ls.answers(l), h, req)
	case bytes.HasPrefix(path, []byte("/conn/")):
		ls.ConnAdmin(l, h, c, req, path[len("/conn/"):])
	case bytes.HasPrefix(path, []byte("/subscriptions/")):
		if method != "POST" && method != "DELETE" {
			ls.AnswerNotAllowed(l, h, req, mesh.AllowSubscriptions, "use POST to add topics, DELETE to remove them")
			return
		}
		ls.s.Cluster.Presence.ServeSubscriptions(ls.answers(l), h, req, path) // admin/subscriptions.go
	case method != "GET" && method != "HEAD":
		ls.AnswerNotAllowed(l, h, req, edge.AllowAdmin, "admin endpoints answer GET")
	case admin.ServeOps(ls.answers(l), opsNode{ls.s}, h, req, path): // healthz, readyz, stats, metrics
	case bytes.HasPrefix(path, []byte("/presence/")) || string(path) == "/topics":
		ls.s.Cluster.Presence.Serve(ls.answers(l), h, req, path)
	default:
		ls.AnswerError(l, h, req, 404, "no such endpoint on the api listener")
	}
}

// authorized checks "Bearer <token>" in constant time.
func (s *Server) authorized(header []byte) bool {
	token, ok := bytes.CutPrefix(header, []byte("Bearer "))
	return ok && subtle.ConstantTimeCompare(token, []byte(s.Cfg.APIToken)) == 1
}
