package perf

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestHosts makes two namespaces on a bridge, dials a listener of the root namespace
// from inside one (its only way out is its veth and the bridge), and checks that Close
// leaves nothing behind.
func TestHosts(t *testing.T) {
	h, err := NewHosts(2, 1)
	if err != nil {
		t.Fatalf("NewHosts: %v", err)
	}
	defer h.Close()
	if h.IPs[0] == h.IPs[1] || h.IPs[0] == h.HostIP || len(h.ClientIPs) != 1 || h.ClientIPs[0] == h.HostIP {
		t.Fatalf("addresses %v, host %s, clients %v; want each its own", h.IPs, h.HostIP, h.ClientIPs)
	}
	out, err := exec.Command("ip", "netns", "exec", h.Names[1], "ip", "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil || !strings.Contains(string(out), h.IPs[1]+"/24") {
		t.Fatalf("namespace 1's addresses: %v\n%s; want %s/24", err, out, h.IPs[1])
	}
	l, err := net.Listen("tcp", h.ClientIPs[0]+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi from the host\n"))
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	got, err := h.Command(1, "bash", "-c", "exec 3<>/dev/tcp/"+h.ClientIPs[0]+"/"+port+"; head -1 <&3").CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "hi from the host" {
		t.Fatalf("dial from namespace 1 to the host: %v %q; want the greeting", err, got)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, n := range append(h.Names, h.Bridge) {
		if exists(n) {
			t.Errorf("%s still exists after Close", n)
		}
	}
}

// TestCleanStaleHosts leaves a namespace and a bridge named for a process that has
// exited, as a crashed run would, and checks that CleanStaleHosts removes both.
func TestCleanStaleHosts(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(dead.Process.Pid)
	ns, br := hostPrefix+"-"+pid+"-0", hostPrefix+"b"+pid
	for _, args := range [][]string{{"netns", "add", ns}, {"link", "add", br, "type", "bridge"}} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { ip("netns", "del", ns); ip("link", "del", br) })
	removed, err := CleanStaleHosts()
	if err != nil {
		t.Fatalf("CleanStaleHosts: %v", err)
	}
	for _, n := range []string{ns, br} {
		if exists(n) {
			t.Errorf("%s still exists after CleanStaleHosts (removed %v)", n, removed)
		}
	}
}

// exists reports whether a namespace or a link of that name exists.
func exists(name string) bool {
	if exec.Command("ip", "link", "show", name).Run() == nil {
		return true
	}
	list, _ := exec.Command("ip", "netns", "list").Output()
	for line := range strings.Lines(string(list)) {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}
