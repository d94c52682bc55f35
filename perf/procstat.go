package perf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is 100 on every
// Linux build that matters (the kernel fixes it for user space), so it is not probed.
const clockTicks = 100

// ProcSample is one reading of a set of server processes.
type ProcSample struct {
	RSSBytes int64         // sum of VmRSS
	CPU      time.Duration // sum of utime+stime
}

// SampleProcs reads RSS and CPU for every pid; with no pids it returns a zero sample, so
// scenarios run against a target whose pid is unknown and simply report no server figures.
func SampleProcs(pids []int) (ProcSample, error) {
	var s ProcSample
	for _, pid := range pids {
		rss, err := ProcRSS(pid)
		if err != nil {
			return s, err
		}
		cpu, err := ProcCPU(pid)
		if err != nil {
			return s, err
		}
		s.RSSBytes += rss
		s.CPU += cpu
	}
	return s, nil
}

// ProcRSS returns VmRSS of pid in bytes, from /proc/PID/status.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	rss, err := parseStatusRSS(b)
	if err != nil {
		return 0, fmt.Errorf("pid %d (exited?): %w", pid, err)
	}
	return rss, nil
}

func parseStatusRSS(b []byte) (int64, error) {
	i := bytes.Index(b, []byte("\nVmRSS:"))
	if i < 0 {
		return 0, errors.New("perf: no VmRSS in /proc status")
	}
	line := b[i+len("\nVmRSS:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line) // "12345 kB"
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, errors.New("perf: bad VmRSS line")
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	return kb << 10, err
}

// ProcCPU returns utime+stime of pid (all its threads, live and exited), from /proc/PID/stat.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads fields 14 (utime) and 15 (stime). The command name (field 2) may hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("perf: bad /proc stat")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("perf: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
