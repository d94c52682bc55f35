package main

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzReadReply reads arbitrary bytes as a Redis reply: no panic, no allocation past
// maxBulk, and a bulk string comes back exactly as framed. Corpus:
// testdata/fuzz/FuzzReadReply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", ":42\r\n", "-ERR no\r\n", "$5\r\nhello\r\n", "$-1\r\n",
		"$99999999999\r\n", "*1\r\n$1\r\na\r\n", "$3\r\nab\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readReply(bufio.NewReader(strings.NewReader(string(b))))
		if err == nil && len(got) > len(b) {
			t.Fatalf("reply %d bytes from %d bytes of input", len(got), len(b))
		}
		if err == nil && len(b) > 0 && b[0] == '$' && !strings.Contains(string(b), got) {
			t.Fatalf("bulk %q is not in the input %q", got, b)
		}
	})
}

func TestReadReply(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"+OK\r\n", "OK", true}, {":7\r\n", "7", true}, {"$5\r\nhello\r\n", "hello", true},
		{"$0\r\n\r\n", "", true}, {"-ERR x\r\n", "", false}, {"$-1\r\n", "", false},
		{"$3\r\nabcd\r\n", "", false}, {"$99999999999\r\n", "", false}, {"*1\r\n", "", false},
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("readReply(%q) = %q, %v; want %q, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
