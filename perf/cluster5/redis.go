package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisProbe is a bare RESP client for what the run reads from Redis: INFO sections and
// MEMORY USAGE. It is not the nodes' client (rueidis) so that its own commands are few
// and known: one per sample, which the figures subtract.
type redisProbe struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

func dialRedis(addr string) (*redisProbe, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &redisProbe{c: c, r: bufio.NewReader(c)}, nil
}

func (p *redisProbe) Close() error { return p.c.Close() }

// do sends one command and returns its reply: a bulk or simple string, or an integer as
// text.
func (p *redisProbe) do(args ...string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = p.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(p.r)
}

// maxBulk bounds a bulk reply: INFO and MEMORY USAGE answers are kilobytes, and a length
// read from a garbled stream must not become a giant allocation.
const maxBulk = 64 << 20

// readReply reads one RESP reply: a bulk or simple string, or an integer as text. Arrays
// and nulls are errors (the probe sends no command that answers them).
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("redis: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New("redis: " + line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > maxBulk {
			return "", fmt.Errorf("redis: bad bulk length %.20q", line[1:])
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return "", errors.New("redis: bulk reply not ended by CRLF")
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %.20q", line)
}

// info returns the fields of INFO section as a map.
func (p *redisProbe) info(section string) (map[string]string, error) {
	s, err := p.do("INFO", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m, nil
}

func (p *redisProbe) infoInt(section, field string) (int64, error) {
	m, err := p.info(section)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(m[field], 10, 64)
}

// commandCalls reads INFO commandstats: calls by command name ("sadd", "evalsha", ...).
func (p *redisProbe) commandCalls() (map[string]int64, error) {
	m, err := p.info("commandstats")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		n, _ := strconv.ParseInt(calls, 10, 64)
		out[name] = n
	}
	return out, nil
}

// memoryUsage is MEMORY USAGE key (bytes, 0 when the key does not exist).
func (p *redisProbe) memoryUsage(key string) int64 {
	s, err := p.do("MEMORY", "USAGE", key, "SAMPLES", "0")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// callsDelta is after minus before, without the probe's own INFO calls and without
// commands that did not change.
func callsDelta(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n > 0 && k != "info" && k != "memory|usage" {
			d[k] = n
		}
	}
	return d
}

// opsSampler reads total_commands_processed every interval and keeps the rate of each
// interval, for the peak of a storm.
type opsSampler struct {
	probe    *redisProbe
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	rates    []float64 // commands per second, per interval
	instant  []int64   // INFO instantaneous_ops_per_sec at each sample
}

func startOpsSampler(p *redisProbe, interval time.Duration) *opsSampler {
	s := &opsSampler{probe: p, interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *opsSampler) run() {
	defer close(s.done)
	last, lastAt := int64(-1), time.Now()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		m, err := s.probe.info("stats")
		now := time.Now()
		if err == nil {
			total, _ := strconv.ParseInt(m["total_commands_processed"], 10, 64)
			inst, _ := strconv.ParseInt(m["instantaneous_ops_per_sec"], 10, 64)
			if last >= 0 {
				// one INFO of ours per interval is in total: take it out
				s.rates = append(s.rates, float64(total-last-1)/now.Sub(lastAt).Seconds())
			}
			s.instant = append(s.instant, inst)
			last, lastAt = total, now
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// finish stops sampling and returns the peak rate over one interval, over one second
// (the mean of the best run of intervals that fill it), and the peak of INFO's own
// instantaneous_ops_per_sec.
func (s *opsSampler) finish() (peak, peak1s float64, instant int64) {
	close(s.stop)
	<-s.done
	per := max(int(time.Second/s.interval), 1)
	for i, r := range s.rates {
		peak = max(peak, r)
		if i+per <= len(s.rates) {
			sum := 0.0
			for _, x := range s.rates[i : i+per] {
				sum += x
			}
			peak1s = max(peak1s, sum/float64(per))
		}
	}
	for _, v := range s.instant {
		instant = max(instant, v)
	}
	return peak, peak1s, instant
}
