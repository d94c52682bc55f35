package auth

import "testing"

// These run without t.Parallel: AllocsPerRun counts the whole process.

func TestMatchAllocs(t *testing.T) {
	acl, err := ParseACL([]string{"news", "user.{user}.*", "*.{user}.*.{user}", "a*b*c"})
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{User: "42", Topics: []string{"sport", "news.*", "user.42.*"}}
	user, topic := []byte("42"), []byte("user.42.inbox.private")
	auth := []byte("Bearer abc.def.ghi")
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"Match", func() { Match([]byte("user.*.inbox.*"), topic) }},
		{"Identity.Allows", func() { id.Allows(topic) }},
		{"Identity.Allows(no match)", func() { id.Allows([]byte("weather")) }},
		{"ACL.Allows", func() { acl.Allows(user, topic) }},
		{"ACL.Allows(no match)", func() { acl.Allows(user, []byte("x.42.y.43")) }},
		{"BearerToken", func() { BearerToken(auth) }},
	} {
		if allocs := testing.AllocsPerRun(200, c.fn); allocs != 0 {
			t.Errorf("%s allocs = %v; want 0", c.name, allocs)
		}
	}
}
