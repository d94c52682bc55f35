package redistest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Pause stops p (SIGSTOP) and returns once every thread of it is stopped:
// kill(2) only queues the signal, and a request sent at once could still be
// served by a thread that has not stopped yet. Continue it with SIGCONT.
func Pause(tb testing.TB, p *os.Process) {
	tb.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("SIGSTOP pid %d: %v", p.Pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		running := runningThread(p.Pid)
		if running == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pid %d not stopped 10 s after SIGSTOP: %s", p.Pid, running)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThread names a thread of pid that is not stopped, or "" when all are.
func runningThread(pid int) string {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if len(tasks) == 0 {
		return "no threads listed"
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		// The state follows the ")" that closes the command name.
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 || i+2 >= len(stat) || (stat[i+2] != 'T' && stat[i+2] != 't') {
			return fmt.Sprintf("%s: %.60s", task, stat)
		}
	}
	return ""
}
