// Package auth decides who a subscriber is and which topics it may subscribe to (SPEC §3, §6):
// a callback to the application (--auth-url, like nginx auth_request), HS256 tokens
// (--jwt-secret), and topic ACL templates (--topic-acl). It holds no connection state; the server
// calls it once per subscribe, off the event loops.
//
// # API
//
//	type Identity struct { User string; Topics []string; AnyTopic bool }      // match.go
//	(Identity).Allows(topic []byte) bool   // AnyTopic, or a pattern in Topics matches; 0 allocs
//	Match(pattern, topic []byte) bool      // '*' = any run of bytes; 0 allocs
//
//	ParseACL(templates []string) (*ACL, error)                                // acl.go
//	(*ACL).Allows(user, topic []byte) bool // 0 allocs; (*ACL).Len() int
//
//	BearerToken(authorization []byte) (token []byte, ok bool)                 // bearer.go
//	NewJWTVerifier(secret []byte) (*JWTVerifier, error)                       // jwt.go
//	(*JWTVerifier).Verify(token []byte, now time.Time) (Identity, error)
//
//	NewCallback(CallbackOptions) (*Callback, error)                           // callback.go
//	(*Callback).Check(*CallbackRequest) (Verdict, error); (*Callback).Close()
//	type CallbackRequest struct { Cookie, Authorization, XForwardedFor, OriginalURI []byte }
//	type Verdict struct { Status int; Identity Identity }
//
// Everything is safe for concurrent use. A subscribe that asks for topic T is meant to be
// allowed when id.Allows(T) || acl.Allows([]byte(id.User), T): the callback or the token names
// what it grants, and the ACL adds each user's own topics without asking anyone.
//
// # Topic patterns
//
// A pattern (from a token's "topics", a callback's "topics", or an ACL template) matches a topic
// byte for byte, except that '*' matches any run of bytes: empty, and dots included ("news*"
// matches "news" and "news.a.b"; "*" matches every topic). There is no escape: a pattern cannot
// name a literal '*'. Matching is linear (see glob) and allocation-free.
//
// # ACL templates
//
// A template is 1-256 printable ASCII bytes without spaces: a pattern in which "{user}" stands
// for exactly the bytes of the subscriber's user id. "user.{user}.*" lets user 42 subscribe to
// "user.42.inbox" and nothing of user 43. The user's bytes are compared, never read as a pattern:
// a user named "*", "a.*" or "{user}" widens nothing. A template naming {user} never matches a
// subscriber with no user; one without {user} applies to every subscriber. '{' must begin
// "{user}" and '}' must end it; ParseACL says which template breaks which rule, in words meant
// to follow "--topic-acl: ".
//
// # Tokens
//
// BearerToken takes the token from "Authorization: Bearer <token>" (the server also takes
// ?token=). Verify accepts only alg HS256 ("none" and every other alg, HS512 and RS256 included,
// are refused before the signature is looked at, which closes the algorithm-confusion hole), a
// signature by --jwt-secret, an "exp" after now, and an "nbf", if any, not after now; no leeway.
// "sub" (a string) is the user; "topics" (an array of strings) are the allowed patterns. A token
// without "topics" grants no topic by itself (AnyTopic is never set for tokens); the ACL may still
// grant the user's own. Its errors are short and fixed ("token expired", "token signature
// invalid", "token has no exp claim", "token alg must be HS256", "token is malformed", "sub claim
// must be a string", "topics claim must be an array of strings", ...), never echo the token and
// carry no package prefix: the server sends the text in its 401 answer.
//
// # Callback
//
// For each subscribe Check sends GET --auth-url with the client's Cookie, Authorization,
// X-Forwarded-For and X-Original-URI headers as the client sent them (an empty one is left out),
// plus Host and User-Agent: pushwire-auth. The service answers:
//
//	2xx, empty body, or one that is not JSON    allowed, no user, any topic ("OK", as services
//	                                            written for nginx auth_request answer)
//	2xx, {"user":"42","topics":["news","user.42.*"]}
//	                                            allowed as user 42, for exactly those patterns;
//	                                            both keys optional: no "user" (or null) = no user,
//	                                            no "topics" = any topic, "topics":[] = none;
//	                                            other keys ignored; "topics":null is an error
//	401, 403                                    Verdict{Status} and no error: the server passes
//	                                            that status to the client
//	anything else                               an error: the server answers the client 502
//
// The errors say what went wrong: "auth callback answered 500" (any other status, 3xx included:
// redirects are not followed), "auth callback answered 200 but its body is not a JSON object
// ...", "auth callback timed out after 3s" (no whole answer within --auth-timeout, waiting for a
// free connection included), "auth callback unreachable: ..." (resolving or connecting failed),
// "auth callback closed the connection without answering", "auth callback answer is over 65536
// bytes", "auth callback not asked: the Cookie header holds a CR, LF or NUL byte" (a value that
// would let the client write its own header lines; the server's parser should never pass one).
// The first failure after a success is logged once as a warning, and the first success
// after failures once as info, so a dead auth service under load costs one log line, not one per
// subscribe.
//
// One fasthttp.Client carries every Check, with at most CallbackOptions.MaxConns (256) kept-alive
// connections; a Check past that waits for one within its timeout. Requests and responses come
// from fasthttp's pools. Special-header handling is off for the request, because fasthttp would
// otherwise re-parse and re-write the client's Cookie header (unquoting values).
//
// # Benchmarks (2-core VM)
//
//	go test -run '^$' -bench . -count 3 ./auth/
//	  Match: literal 11 ns, "user.1234567.*" 18 ns, three stars 37 ns, miss 7.5 ns; 0 allocs
//	         (path.Match on the same inputs: 130, 63, 227, 57 ns)
//	  ACL.Allows, 3 templates, match on the third: 42 ns; miss: 33 ns; 0 allocs
//	  JWT Verify (sub, two topics, exp): 4.7 µs, 60 allocs (jwt/v5 and its encoding/json)
//	  parseAnswer (user, two topics): 2.1 µs, 26 allocs
//	  Callback Check, net/http service on loopback, 2 goroutines: 18.5 µs, 44 allocs
package auth
