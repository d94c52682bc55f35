package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// benchTopic is a typical per-user topic; path.Match is the standard-library baseline (its '*'
// stops at '/', which these topics do not hold, so both answer the same).
var benchTopic = []byte("user.1234567.notifications.mobile")

func BenchmarkMatch(b *testing.B) {
	for _, c := range []struct{ name, pattern string }{
		{"literal", "user.1234567.notifications.mobile"},
		{"suffix-star", "user.1234567.*"},
		{"three-stars", "user.*.notif*.*"},
		{"miss", "user.7654321.*"},
	} {
		pattern := []byte(c.pattern)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(pattern, benchTopic)
			}
		})
		b.Run(c.name+"/path.Match", func(b *testing.B) {
			b.ReportAllocs()
			topic := string(benchTopic)
			for b.Loop() {
				path.Match(c.pattern, topic)
			}
		})
	}
}

func BenchmarkACLAllows(b *testing.B) {
	acl, err := ParseACL([]string{"broadcast.*", "team.{user}.*", "user.{user}.*"})
	if err != nil {
		b.Fatal(err)
	}
	user := []byte("1234567")
	for _, c := range []struct {
		name  string
		topic []byte
	}{
		{"third-template", benchTopic},
		{"miss", []byte("user.7654321.notifications.mobile")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				acl.Allows(user, c.topic)
			}
		})
	}
}

func BenchmarkJWTVerify(b *testing.B) {
	v, err := NewJWTVerifier(jwtSecret)
	if err != nil {
		b.Fatal(err)
	}
	token := signToken(b, jwt.SigningMethodHS256, jwtSecret, jwt.MapClaims{
		"sub": "1234567", "topics": []string{"news", "user.1234567.*"}, "exp": jwtNow.Unix() + 3600})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(token, jwtNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAnswer(b *testing.B) {
	body := []byte(`{"user":"1234567","topics":["news","user.1234567.*"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseAnswer(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallbackCheck: one Check against a net/http auth service on loopback, from as many
// goroutines as GOMAXPROCS; client and service share the machine's cores.
func BenchmarkCallbackCheck(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"user":"1234567","topics":["news","user.1234567.*"]}`)
	}))
	defer srv.Close()
	c, err := NewCallback(CallbackOptions{URL: srv.URL + "/auth"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := &CallbackRequest{
		Cookie:        []byte("session=0123456789abcdef0123456789abcdef"),
		XForwardedFor: []byte("203.0.113.7"),
		OriginalURI:   []byte("/sub?topic=news&topic=user.1234567.inbox"),
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v, err := c.Check(r); err != nil || v.Identity.User != "1234567" {
				b.Errorf("Check = %+v, %v", v, err)
				return
			}
		}
	})
}
