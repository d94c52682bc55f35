package perf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Hosts are network namespaces that stand for separate machines: each has its own
// address on one bridge in the root namespace (through a veth pair), so processes run in
// them with "ip netns exec" talk over a real interface, and the root namespace (load
// clients, Redis) reaches every one of them at its own address.
//
// Names carry the pid of the process that made them ("pw5-<pid>-<i>", bridge
// "pw5b<pid>", veths "pw5v<pid>-<i>"), so a later run removes what a crashed one left
// (CleanStaleHosts) without touching the hosts of a run still going. The subnet is
// 10.(216+pid/256%8).(pid%256).0/24: outside 10.200.0.0/13, which the acceptance
// tests' black-hole namespaces use.

// hostPrefix starts every name Hosts makes.
const hostPrefix = "pw5"

// Hosts is a set of namespaces on one bridge.
type Hosts struct {
	pid    int
	Bridge string
	// HostIP is the root namespace's address on the bridge.
	HostIP string
	// ClientIPs are more addresses of the root namespace on the bridge (NewHosts'
	// clients argument): load clients bind one each, because one source address has only
	// ~28k ephemeral ports towards one destination, and a connect() that must search a
	// nearly full range for a free port takes milliseconds.
	ClientIPs []string
	// Names and IPs are the namespaces and their addresses, by index.
	Names []string
	IPs   []string
}

// ip runs the ip command with args and wraps its output into the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("perf: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewHosts creates n namespaces on a fresh bridge, and gives the root namespace clients
// addresses on it besides HostIP. It needs root (CAP_NET_ADMIN) and iproute2. On error
// what was made is removed.
func NewHosts(n, clients int) (*Hosts, error) {
	if n < 1 || n > 200 || clients < 0 || clients > 40 {
		return nil, errors.New("perf: NewHosts wants 1 to 200 namespaces and 0 to 40 client addresses")
	}
	pid := os.Getpid()
	net := fmt.Sprintf("10.%d.%d.", 216+pid/256%8, pid%256)
	h := &Hosts{pid: pid, Bridge: fmt.Sprintf("%sb%d", hostPrefix, pid), HostIP: net + "1"}
	steps := [][]string{
		{"link", "add", h.Bridge, "type", "bridge"},
		{"addr", "add", h.HostIP + "/24", "dev", h.Bridge},
		{"link", "set", h.Bridge, "up"},
	}
	for c := range clients {
		addr := net + strconv.Itoa(210+c)
		h.ClientIPs = append(h.ClientIPs, addr)
		steps = append(steps, []string{"addr", "add", addr + "/24", "dev", h.Bridge})
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			h.Close()
			return nil, err
		}
	}
	for i := range n {
		name := fmt.Sprintf("%s-%d-%d", hostPrefix, pid, i)
		addr := net + strconv.Itoa(10+i)
		veth, peer := fmt.Sprintf("%sv%d-%d", hostPrefix, pid, i), fmt.Sprintf("%sp%d-%d", hostPrefix, pid, i)
		h.Names = append(h.Names, name)
		h.IPs = append(h.IPs, addr)
		steps := [][]string{
			{"netns", "add", name},
			{"link", "add", veth, "type", "veth", "peer", "name", peer, "netns", name},
			{"link", "set", veth, "master", h.Bridge},
			{"link", "set", veth, "up"},
			{"-n", name, "addr", "add", addr + "/24", "dev", peer},
			{"-n", name, "link", "set", peer, "up"},
			{"-n", name, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				h.Close()
				return nil, err
			}
		}
	}
	return h, nil
}

// Command runs bin with args inside namespace i. The process dies with its parent
// (Pdeathsig survives the exec that "ip netns exec" does), so a crashed run leaves no
// node behind.
func (h *Hosts) Command(i int, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.Names[i], bin}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Close kills whatever still runs in the namespaces and deletes them and the bridge
// (deleting a namespace deletes its veth pair).
func (h *Hosts) Close() error {
	var errs []error
	for _, name := range h.Names {
		removeNetns(name, &errs)
	}
	if err := ip("link", "del", h.Bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func removeNetns(name string, errs *[]error) {
	if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
		for f := range strings.FieldsSeq(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if err := ip("netns", "del", name); err != nil && !strings.Contains(err.Error(), "No such file") {
		*errs = append(*errs, err)
	}
}

// CleanStaleHosts removes the namespaces and bridges a run whose process is gone left
// behind (it crashed, or was killed before its cleanup ran). It reports what it removed.
func CleanStaleHosts() ([]string, error) {
	var removed []string
	var errs []error
	// alive is true for a live pid, and for anything that is not a pid (not ours to remove).
	alive := func(pid string) bool {
		if _, err := strconv.Atoi(pid); err != nil {
			return true
		}
		_, err := os.Stat("/proc/" + pid)
		return err == nil
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], hostPrefix+"-") {
				continue
			}
			pid, _, _ := strings.Cut(strings.TrimPrefix(f[0], hostPrefix+"-"), "-")
			if !alive(pid) {
				removeNetns(f[0], &errs)
				removed = append(removed, f[0])
			}
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show", "type", "bridge").Output()
	if err != nil {
		return removed, err
	}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if pid, ok := strings.CutPrefix(name, hostPrefix+"b"); ok && !alive(pid) {
			if err := ip("link", "del", name); err != nil {
				errs = append(errs, err)
			}
			removed = append(removed, name)
		}
	}
	return removed, errors.Join(errs...)
}
