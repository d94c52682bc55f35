package auth

import (
	"encoding/base64"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	jwtSecret = []byte("test-secret-0123456789abcdef")
	jwtNow    = time.Unix(1_700_000_000, 0) // whole seconds: NumericDate keeps no more
)

// signToken signs claims with method and key, as an issuer would.
func signToken(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) []byte {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(%s) = %v", method.Alg(), err)
	}
	return []byte(s)
}

// withAlg returns token with its header replaced by {"alg":alg,"typ":"JWT"}, the signature kept:
// the algorithm-confusion attack.
func withAlg(token []byte, alg string) []byte {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
	_, rest, _ := strings.Cut(string(token), ".")
	return []byte(header + "." + rest)
}

func TestNewJWTVerifier(t *testing.T) {
	t.Parallel()
	if v, err := NewJWTVerifier(nil); err == nil {
		t.Errorf("NewJWTVerifier(nil) = %v, nil; want an error", v)
	}
	secret := []byte("s")
	v, err := NewJWTVerifier(secret)
	if err != nil {
		t.Fatalf("NewJWTVerifier(s) = %v", err)
	}
	secret[0] = 'x' // the verifier keeps its own copy
	token := signToken(t, jwt.SigningMethodHS256, []byte("s"), jwt.MapClaims{"exp": jwtNow.Unix() + 1})
	if _, err := v.Verify(token, jwtNow); err != nil {
		t.Errorf("Verify after the caller changed its secret = %v; want nil", err)
	}
}

func TestJWTVerify(t *testing.T) {
	t.Parallel()
	v, err := NewJWTVerifier(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	exp := jwtNow.Unix() + 60
	hs := func(claims jwt.MapClaims) []byte { return signToken(t, jwt.SigningMethodHS256, jwtSecret, claims) }
	valid := hs(jwt.MapClaims{"sub": "42", "exp": exp})
	none := signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "42", "exp": exp})
	parts := strings.Split(string(valid), ".") // header, claims, signature
	join := func(p ...string) []byte { return []byte(strings.Join(p, ".")) }
	b64 := base64.RawURLEncoding.EncodeToString
	hs512 := signToken(t, jwt.SigningMethodHS512, jwtSecret, jwt.MapClaims{"sub": "42", "exp": exp})

	for _, c := range []struct {
		name    string
		token   []byte
		want    Identity
		wantErr string
	}{
		{"sub and topics", hs(jwt.MapClaims{"sub": "42", "topics": []string{"news", "user.42.*"}, "exp": exp}),
			Identity{User: "42", Topics: []string{"news", "user.42.*"}}, ""},
		{"sub only", valid, Identity{User: "42"}, ""},
		{"neither", hs(jwt.MapClaims{"exp": exp}), Identity{}, ""},
		{"empty topics", hs(jwt.MapClaims{"topics": []string{}, "exp": exp}), Identity{Topics: []string{}}, ""},
		{"null sub", hs(jwt.MapClaims{"sub": nil, "exp": exp}), Identity{}, ""},
		{"other claims ignored", hs(jwt.MapClaims{"sub": "u", "exp": exp, "iat": "junk", "aud": 7}), Identity{User: "u"}, ""},
		{"nbf now", hs(jwt.MapClaims{"sub": "42", "exp": exp, "nbf": jwtNow.Unix()}), Identity{User: "42"}, ""},
		{"exp one second ahead", hs(jwt.MapClaims{"exp": jwtNow.Unix() + 1}), Identity{Expires: time.Unix(jwtNow.Unix()+1, 0)}, ""},
		{"exp fractional", hs(jwt.MapClaims{"exp": float64(exp) + 0.25}), Identity{Expires: time.UnixMilli(exp*1000 + 250)}, ""},

		{"expired", hs(jwt.MapClaims{"sub": "42", "exp": jwtNow.Unix() - 1}), Identity{}, "token expired"},
		{"exp now", hs(jwt.MapClaims{"sub": "42", "exp": jwtNow.Unix()}), Identity{}, "token expired"},
		{"no exp", hs(jwt.MapClaims{"sub": "42"}), Identity{}, "token has no exp claim"},
		{"exp a string", hs(jwt.MapClaims{"exp": "tomorrow"}), Identity{}, "exp claim must be a number"},
		{"nbf ahead", hs(jwt.MapClaims{"exp": exp, "nbf": jwtNow.Unix() + 1}), Identity{}, "token not valid yet"},
		{"nbf a string", hs(jwt.MapClaims{"exp": exp, "nbf": "soon"}), Identity{}, "nbf claim must be a number"},
		{"wrong secret", signToken(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"exp": exp}),
			Identity{}, "token signature invalid"},
		{"signature cut", join(parts[0], parts[1], parts[2][:len(parts[2])-4]), Identity{}, "token signature invalid"},
		{"alg none", none, Identity{}, "token alg must be HS256"},
		{"alg HS512", hs512, Identity{}, "token alg must be HS256"},
		{"alg RS256 header on an HS256 signature", withAlg(valid, "RS256"), Identity{}, "token alg must be HS256"},
		{"alg none header on an HS256 signature", withAlg(valid, "none"), Identity{}, "token alg must be HS256"},
		{"alg unknown", withAlg(valid, "XX999"), Identity{}, "token alg must be HS256"},
		{"alg missing", join(b64([]byte(`{"typ":"JWT"}`)), parts[1], parts[2]), Identity{}, "token alg must be HS256"},
		{"sub a number", hs(jwt.MapClaims{"sub": 42, "exp": exp}), Identity{}, "sub claim must be a string"},
		{"topics a string", hs(jwt.MapClaims{"topics": "news", "exp": exp}), Identity{}, "topics claim must be an array of strings"},
		{"topics null", hs(jwt.MapClaims{"topics": nil, "exp": exp}), Identity{}, "topics claim must be an array of strings"},
		{"topics with a number", hs(jwt.MapClaims{"topics": []any{"news", 1}, "exp": exp}), Identity{}, "topics claim must be an array of strings"},
		{"topics an object", hs(jwt.MapClaims{"topics": map[string]any{"a": "b"}, "exp": exp}), Identity{}, "topics claim must be an array of strings"},

		{"empty", []byte(""), Identity{}, "token is malformed"},
		{"one part", []byte("abc"), Identity{}, "token is malformed"},
		{"two parts", []byte("abc.def"), Identity{}, "token is malformed"},
		{"four parts", join(parts[0], parts[1], parts[2], "x"), Identity{}, "token is malformed"},
		{"not base64", []byte("!!!.###.$$$"), Identity{}, "token is malformed"},
		{"header not JSON", join(b64([]byte("not json")), parts[1], parts[2]), Identity{}, "token is malformed"},
		{"claims not JSON", join(parts[0], b64([]byte("[1,")), parts[2]), Identity{}, "token is malformed"},
		{"signature not base64", join(parts[0], parts[1], "***"), Identity{}, "token is malformed"},
	} {
		if c.wantErr == "" && c.want.Expires.IsZero() {
			c.want.Expires = time.Unix(exp, 0) // exp → Expires: the stream ends then
		}
		got, err := v.Verify(c.token, jwtNow)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: Verify = %v; want %+v", c.name, err, c.want)
		case c.wantErr != "" && (err == nil || err.Error() != c.wantErr):
			t.Errorf("%s: Verify = %+v, %v; want error %q", c.name, got, err, c.wantErr)
		case !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: Verify = %+v; want %+v", c.name, got, c.want)
		}
	}
}

// TestJWTVerifyConcurrent shares one verifier between goroutines (run under -race).
func TestJWTVerifyConcurrent(t *testing.T) {
	t.Parallel()
	v, err := NewJWTVerifier(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([][]byte, 16)
	for i := range tokens {
		tokens[i] = signToken(t, jwt.SigningMethodHS256, jwtSecret,
			jwt.MapClaims{"sub": strings.Repeat("u", i+1), "exp": jwtNow.Unix() + int64(i)})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(tokens)
				id, err := v.Verify(tokens[k], jwtNow)
				switch {
				case k == 0 && err != errTokenExpired:
					t.Errorf("Verify(exp = now) = %+v, %v; want %v", id, err, errTokenExpired)
					return
				case k > 0 && (err != nil || id.User != strings.Repeat("u", k+1)):
					t.Errorf("Verify(token %d) = %+v, %v; want user of %d bytes", k, id, err, k+1)
					return
				}
			}
		})
	}
	wg.Wait()
}
