package cluster

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// redisClientOption turns --redis into the rueidis options the directory and the message store
// share. The URL names one Redis or the seed nodes of a Redis Cluster:
//
//	redis://[user:pass@]host:port[/db]                   one Redis, or any one node of a Redis Cluster
//	redis://[user:pass@]host:port,host:port,...          seeds of a Redis Cluster (comma separated)
//	redis://host:port?addr=host:port&addr=host:port      the same seeds, rueidis's own spelling
//
// rueidis asks the first seed that answers for the cluster's slot map (CLUSTER SHARDS/SLOTS)
// and talks to every master itself; with a single address it falls back to a plain client
// when the server is not in cluster mode. Several addresses therefore mean a Redis Cluster,
// and a Redis Cluster has only database 0, so a /db other than 0 with several seeds is refused
// here rather than by a SELECT that every node would reject.
//
// Requests are bounded by opTimeout: a dead Redis costs a caller at most that. rueidis PINGs
// every KeepAlive and closes a connection that does not answer within ConnWriteTimeout; closing
// it drops that connection's client-side cache (see doc.go), which bounds how long a silent
// partition can leave a reader with entries whose invalidations it may have missed.
func redisClientOption(url string, opTimeout time.Duration) (rueidis.ClientOption, error) {
	first, seeds, err := splitSeeds(url)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	copt, err := rueidis.ParseURL(first)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	copt.InitAddress = append(copt.InitAddress, seeds...)
	if len(copt.InitAddress) > 1 && copt.SelectDB != 0 {
		return rueidis.ClientOption{}, fmt.Errorf("database %d with several addresses: a Redis Cluster has only database 0", copt.SelectDB)
	}
	copt.Dialer = net.Dialer{Timeout: opTimeout, KeepAlive: time.Second}
	copt.ConnWriteTimeout = 2 * time.Second
	copt.DisableRetry = true // callers answer fast and let their caller (or the next heartbeat) retry
	return copt, nil
}

// splitSeeds cuts a comma-separated host list out of url's authority: it returns url with only
// the first host, and the others as host:port addresses (port 6379 when left out).
func splitSeeds(url string) (string, []string, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url, nil, nil // rueidis.ParseURL says what is wrong
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndexByte(authority, '@') + 1
	hosts := strings.Split(authority[at:], ",")
	if len(hosts) == 1 {
		return url, nil, nil
	}
	seeds := make([]string, 0, len(hosts)-1)
	for _, h := range hosts {
		if h == "" {
			return "", nil, errors.New("empty address in the comma-separated host list")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "6379")
		}
		seeds = append(seeds, h)
	}
	first := scheme + "://" + authority[:at] + hosts[0] + rest[end:]
	return first, seeds[1:], nil
}
