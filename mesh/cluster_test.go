package mesh

import "testing"

func TestRedisURLLoggedWithoutPassword(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":          "redis://127.0.0.1:6379/0",
		"redis://u:secret@127.0.0.1:6379/0": "redis://***@127.0.0.1:6379/0",
		"rediss://:secret@h1:7000,h2:7000":  "rediss://***@h1:7000,h2:7000",
		"redis://u:p@ss@h:1/0?addr=h2:2":    "redis://***@h:1/0?addr=h2:2",
		"127.0.0.1:6379":                    "127.0.0.1:6379",
	} {
		if got := WithoutUserinfo(in); got != want {
			t.Errorf("WithoutUserinfo(%q) = %q; want %q", in, got, want)
		}
	}
}
