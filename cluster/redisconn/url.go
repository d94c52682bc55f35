package redisconn

import (
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// sentinelScheme is --redis's scheme for a primary watched by Redis Sentinel.
const sentinelScheme = "redis-sentinel://"

// sentinelRefresh is how often a Sentinel client asks a sentinel for the primary besides
// following its +switch-master events: it bounds how long one missed event can keep a node
// on a demoted primary.
const sentinelRefresh = time.Second

// ClientOption turns --redis into the rueidis options the directory (package cluster) and a
// Conn share. The URL names one Redis, the seed nodes of a Redis Cluster, or the sentinels that
// watch a primary and its replicas:
//
//	redis://[user:pass@]host:port[/db]                   one Redis, or any one node of a Redis Cluster
//	redis://[user:pass@]host:port,host:port,...          seeds of a Redis Cluster (comma separated)
//	redis://host:port?addr=host:port&addr=host:port      the same seeds, rueidis's own spelling
//	redis-sentinel://[user:pass@]host:port[,host:port...]/name[/db]
//	                                                     sentinels (port 26379 when left out) of
//	                                                     the primary they call name
//	redis://host:port?addr=host:port&master_set=name     the same sentinels, rueidis's own spelling
//
// rueidis asks the first seed that answers for the cluster's slot map (CLUSTER SHARDS/SLOTS)
// and talks to every master itself; with a single address it falls back to a plain client
// when the server is not in cluster mode. Several addresses therefore mean a Redis Cluster,
// and a Redis Cluster has only database 0, so a /db other than 0 with several seeds is refused
// here rather than by a SELECT that every node would reject.
//
// With sentinels, rueidis asks the first that answers for the primary's address, follows
// their +switch-master events and asks again every sentinelRefresh; user:pass authenticate to
// the primary (the sentinels are reached without). Query options (?dial_timeout=…) are
// rueidis's, as for redis://.
//
// ?wait_replicas=N[&wait_timeout=D] (any form) has each QoS 1 store write wait until N replicas
// acknowledge it (WAIT N, bounded by D): see redisDurability and Conn.DoDurable.
//
// Requests are bounded by opTimeout: a dead Redis costs a caller at most that. rueidis PINGs
// every KeepAlive and closes a connection that does not answer within ConnWriteTimeout; closing
// it drops that connection's client-side cache (see package cluster's doc), which bounds how
// long a silent partition can leave a reader with entries whose invalidations it may have missed.
func ClientOption(url string, opTimeout time.Duration) (rueidis.ClientOption, error) {
	var copt rueidis.ClientOption
	var err error
	if strings.HasPrefix(url, sentinelScheme) {
		copt, err = sentinelClientOption(url)
	} else {
		copt, err = seedsClientOption(url)
	}
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	copt.Dialer = net.Dialer{Timeout: opTimeout, KeepAlive: time.Second}
	if copt.Sentinel.MasterSet != "" {
		copt.Sentinel.Dialer = copt.Dialer
		copt.Sentinel.TopologyRefreshInterval = sentinelRefresh
	}
	copt.ConnWriteTimeout = 2 * time.Second
	copt.DisableRetry = true // callers answer fast and let their caller (or the next heartbeat) retry
	return copt, nil
}

// seedsClientOption parses a redis:// (or rediss://, unix://) URL with its comma-separated hosts.
func seedsClientOption(url string) (rueidis.ClientOption, error) {
	first, seeds, err := splitSeeds(url, "6379")
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	copt, err := rueidis.ParseURL(first)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	copt.InitAddress = append(copt.InitAddress, seeds...)
	if len(copt.InitAddress) > 1 && copt.SelectDB != 0 && copt.Sentinel.MasterSet == "" {
		return rueidis.ClientOption{}, fmt.Errorf("database %d with several addresses: a Redis Cluster has only database 0", copt.SelectDB)
	}
	return copt, nil
}

// errSentinelForm is the shape a redis-sentinel:// URL must have, for error messages.
const errSentinelForm = "want redis-sentinel://[user:pass@]host:port[,host:port...]/name[/db]"

// sentinelClientOption parses redis-sentinel://[user:pass@]host:port[,host:port...]/name[/db][?opts].
func sentinelClientOption(url string) (rueidis.ClientOption, error) {
	rest := strings.TrimPrefix(url, sentinelScheme)
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	at := strings.LastIndexByte(authority, '@') + 1
	hosts, err := hostList(authority[at:], "26379")
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("sentinels: %w (%s)", err, errSentinelForm)
	}
	path, query, _ := strings.Cut(tail, "?")
	if strings.Contains(path, "#") {
		return rueidis.ClientOption{}, fmt.Errorf("a fragment in %q (%s)", tail, errSentinelForm)
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	name := parts[0]
	if name == "" || len(parts) > 2 {
		return rueidis.ClientOption{}, fmt.Errorf("no primary name in path %q (%s)", path, errSentinelForm)
	}
	db := ""
	if len(parts) == 2 {
		if _, err := strconv.Atoi(parts[1]); err != nil {
			return rueidis.ClientOption{}, fmt.Errorf("database %q is not a number (%s)", parts[1], errSentinelForm)
		}
		db = "/" + parts[1]
	}
	if query != "" {
		query = "?" + query
	}
	// rueidis reads the user, password, database and query options; the addresses are ours.
	copt, err := rueidis.ParseURL("redis://" + authority[:at] + hosts[0] + db + query)
	if err != nil {
		return rueidis.ClientOption{}, err
	}
	if copt.Sentinel.MasterSet != "" && copt.Sentinel.MasterSet != name {
		return rueidis.ClientOption{}, fmt.Errorf("primary named both %q (path) and %q (master_set)", name, copt.Sentinel.MasterSet)
	}
	copt.InitAddress = hosts
	copt.Sentinel.MasterSet = name
	return copt, nil
}

// splitSeeds cuts a comma-separated host list out of url's authority: it returns url with only
// the first host, and the others as host:port addresses (port defPort when left out).
func splitSeeds(url, defPort string) (string, []string, error) {
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
	if !strings.Contains(authority[at:], ",") {
		return url, nil, nil
	}
	seeds, err := hostList(authority[at:], defPort)
	if err != nil {
		return "", nil, err
	}
	first := scheme + "://" + authority[:at] + seeds[0] + rest[end:]
	return first, seeds[1:], nil
}

// hostList splits a comma-separated host[:port] list into host:port addresses, defPort where
// a host has none.
func hostList(list, defPort string) ([]string, error) {
	hosts := strings.Split(list, ",")
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if h == "" {
			return nil, errors.New("empty address in the comma-separated host list")
		}
		if host, port, err := net.SplitHostPort(h); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 || host == "" {
				return nil, fmt.Errorf("address %q: want host:port with a port from 1 to 65535", h)
			}
		} else {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		}
		out = append(out, h)
	}
	return out, nil
}

// durability is what --redis's wait_replicas and wait_timeout ask of a QoS 1 store write: that
// replicas of them acknowledge it (WAIT) before the publish is answered.
type durability struct {
	replicas int           // 0 = no WAIT: the write is acknowledged by the primary alone
	timeout  time.Duration // WAIT's bound
}

// redisDurability reads ?wait_replicas=N[&wait_timeout=D] from url. wait_timeout defaults to half
// of opTimeout and must be below it, so that a WAIT that times out is answered as such rather
// than cut by the request's own bound.
func redisDurability(url string, opTimeout time.Duration) (durability, error) {
	_, query, _ := strings.Cut(url, "?")
	query, _, _ = strings.Cut(query, "#")
	q, err := neturl.ParseQuery(query)
	if err != nil {
		return durability{}, fmt.Errorf("query: %w", err)
	}
	d := durability{timeout: opTimeout / 2}
	if v := q.Get("wait_replicas"); v != "" {
		if d.replicas, err = strconv.Atoi(v); err != nil || d.replicas < 0 {
			return durability{}, fmt.Errorf("wait_replicas=%q: want a number of replicas, 0 or more", v)
		}
	}
	if v := q.Get("wait_timeout"); v != "" {
		if d.timeout, err = time.ParseDuration(v); err != nil || d.timeout <= 0 || d.timeout >= opTimeout {
			return durability{}, fmt.Errorf("wait_timeout=%q: want a duration above 0 and below the %v request bound", v, opTimeout)
		}
	}
	return d, nil
}
