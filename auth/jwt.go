package auth

import (
	"bytes"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTVerifier checks HS256 tokens signed with --jwt-secret. Safe for concurrent use.
type JWTVerifier struct {
	secret []byte
}

// NewJWTVerifier returns a verifier for tokens signed with secret (copied). An empty secret is
// an error: every token would verify against it.
func NewJWTVerifier(secret []byte) (*JWTVerifier, error) {
	if len(secret) == 0 {
		return nil, errors.New("the secret is empty")
	}
	return &JWTVerifier{secret: bytes.Clone(secret)}, nil
}

// Token errors. They carry no package prefix and no token bytes: the server puts the text as it
// is into the 401 answer, where it tells the client what to fix.
var (
	errTokenMalformed = errors.New("token is malformed")
	errTokenAlg       = errors.New("token alg must be HS256")
	errTokenSignature = errors.New("token signature invalid")
	errTokenNoExp     = errors.New("token has no exp claim")
	errTokenExpired   = errors.New("token expired")
	errTokenNotYet    = errors.New("token not valid yet")
	errTokenExpType   = errors.New("exp claim must be a number")
	errTokenNbfType   = errors.New("nbf claim must be a number")
	errTokenInvalid   = errors.New("token invalid")
	errSubType        = errors.New("sub claim must be a string")
	errTopicsType     = errors.New("topics claim must be an array of strings")
)

// Verify checks token at now and returns the identity it carries. The alg must be HS256 (alg
// "none" and every other alg are refused before any signature check), the signature must match,
// "exp" is required and must be after now, and "nbf", if present, must not be after now; no
// leeway. Claims: "sub" (a string; absent or null = no user) → User, "topics" (an array of
// strings; absent = none) → Topics, "exp" → Expires (the stream it allows ends then). AnyTopic is always false: a token allows only what it names
// (and what --topic-acl grants its user). "topics": null is refused rather than guessed at.
func (v *JWTVerifier) Verify(token []byte, now time.Time) (Identity, error) {
	// A parser per call: its clock is part of it, and now is per call. It is a few small
	// allocations beside the HMAC and the JSON decoding.
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	claims := jwt.MapClaims{}
	parsed, err := p.ParseWithClaims(string(token), claims, v.key)
	if err != nil {
		return Identity{}, tokenError(parsed, claims, err)
	}
	return claimsIdentity(claims)
}

// key hands jwt the secret. WithValidMethods has already refused every alg but HS256, so the
// secret is never used as another algorithm's key.
func (v *JWTVerifier) key(*jwt.Token) (any, error) {
	return v.secret, nil
}

// tokenError turns a jwt error into one of the short errors above. jwt checks in this order:
// syntax, alg, signature, then time claims (which it joins), so the first failing step names it.
func tokenError(parsed *jwt.Token, claims jwt.MapClaims, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errTokenMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable): // alg missing, unknown to jwt
		return errTokenAlg
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if parsed == nil || parsed.Method == nil || parsed.Method.Alg() != jwt.SigningMethodHS256.Alg() {
			return errTokenAlg // refused by WithValidMethods, which jwt reports as a bad signature
		}
		return errTokenSignature
	case errors.Is(err, jwt.ErrInvalidType):
		if exp, present := claims["exp"]; present {
			if _, isNumber := exp.(float64); !isNumber {
				return errTokenExpType
			}
		}
		return errTokenNbfType // the only other time claim jwt checks here
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errTokenNoExp
	case errors.Is(err, jwt.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errTokenNotYet
	}
	return errTokenInvalid
}

// claimsIdentity reads sub, topics and exp from verified claims. exp is a number (jwt checked
// it): seconds, possibly fractional.
func claimsIdentity(claims jwt.MapClaims) (Identity, error) {
	var id Identity
	if exp, ok := claims["exp"].(float64); ok {
		id.Expires = time.UnixMilli(int64(exp * 1000))
	}
	switch sub := claims["sub"].(type) {
	case nil: // absent or null
	case string:
		id.User = sub
	default:
		return Identity{}, errSubType
	}
	raw, ok := claims["topics"]
	if !ok {
		return id, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return Identity{}, errTopicsType
	}
	id.Topics = make([]string, len(list))
	for i, t := range list {
		if id.Topics[i], ok = t.(string); !ok {
			return Identity{}, errTopicsType
		}
	}
	return id, nil
}
