package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/pushwire/pushwire/cluster/redistest"
)

var setCalls = regexp.MustCompile(`cmdstat_set:calls=(\d+)`)

// redisSETs is how many SET commands the Redis at addr has run.
func redisSETs(t *testing.T, addr string) int {
	t.Helper()
	info, err := redistest.Do(addr, "INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	m := setCalls.FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// In cluster mode an unkeyed publish to a local connection costs Redis
// nothing, while a keyed one claims and records its key: two SETs each.
func TestUnkeyedPublishSkipsRedis(t *testing.T) {
	redis := redistest.Single(t)
	s := testNode(t, func(c *Config) { c.Redis, c.ClusterListen, c.NodeID = "redis://"+redis, "127.0.0.1:0", "solo" })
	sub := openStreams(t, s, 1, func(int) string { return "user=u" })[0]
	c, err := net.Dial("tcp", s.APIAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	publish := func(n int, key string) {
		for i := range n {
			hdr := ""
			if key != "" {
				hdr = fmt.Sprintf("Idempotency-Key: %s-%d\r\n", key, i)
			}
			fmt.Fprintf(c, "POST /pub/conn/%s HTTP/1.1\r\nHost: t\r\n%sContent-Length: 2\r\n\r\nhi", sub.key, hdr)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("publish %d (key %q): %v", i, key, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("publish %d (key %q) = %d %s; want 200", i, key, resp.StatusCode, body)
			}
		}
	}
	publish(10, "") // warm up
	before := redisSETs(t, redis)
	publish(500, "")
	// The directory's heartbeat (a SET every --node-ttl/3) may fall in.
	if d := redisSETs(t, redis) - before; d > 5 {
		t.Errorf("500 unkeyed publishes: Redis ran %d SETs; want none but heartbeats", d)
	}
	before = redisSETs(t, redis)
	publish(100, "k")
	if d := redisSETs(t, redis) - before; d < 200 {
		t.Errorf("100 keyed publishes: Redis ran %d SETs; want 200 (claim and record each)", d)
	}
}
