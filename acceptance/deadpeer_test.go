package acceptance

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SPEC §3: a connection whose peer is gone is found and removed within two
// heartbeat intervals, also when the peer vanished without a FIN or an RST
// (a machine that lost power, a cable pulled, a NAT that forgot the flow).
// Only a real black hole shows that: the subscriber runs in a network
// namespace of its own whose link the test then cuts, so nothing it or its
// kernel sends reaches the node any more.

// netns is a network namespace joined to this one by a veth pair:
// hostIP on this side, peerIP inside.
type netns struct {
	name, hostDev, peerDev string
	hostIP, peerIP         string
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	var r [3]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	ns := &netns{
		name: "pw" + id, hostDev: "pwh" + id, peerDev: "pwn" + id,
		// A /30 of 10.200.0.0/13 picked at random, so parallel runs differ.
		hostIP: fmt.Sprintf("10.%d.%d.%d", 200+r[0]%8, r[1], r[2]&^3|1),
		peerIP: fmt.Sprintf("10.%d.%d.%d", 200+r[0]%8, r[1], r[2]&^3|2),
	}
	run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns.name).Run() })
	run(t, "ip", "link", "add", ns.hostDev, "type", "veth", "peer", "name", ns.peerDev, "netns", ns.name)
	t.Cleanup(func() { exec.Command("ip", "link", "del", ns.hostDev).Run() })
	run(t, "ip", "addr", "add", ns.hostIP+"/30", "dev", ns.hostDev)
	run(t, "ip", "link", "set", ns.hostDev, "up")
	run(t, "ip", "netns", "exec", ns.name, "ip", "addr", "add", ns.peerIP+"/30", "dev", ns.peerDev)
	run(t, "ip", "netns", "exec", ns.name, "ip", "link", "set", ns.peerDev, "up")
	run(t, "ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
	return ns
}

func TestBlackHoledSubscriberIsRemoved(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	const heartbeat = time.Second
	n := startNode(t, "--listen", ns.hostIP+":0", "--heartbeat", heartbeat.String())

	sub := exec.Command("ip", "netns", "exec", ns.name, "curl", "-sN", "http://"+n.edge+"/sub?user=blackholed")
	if err := sub.Start(); err != nil {
		t.Fatalf("start curl in %s: %v", ns.name, err)
	}
	t.Cleanup(func() { sub.Process.Kill(); sub.Wait() })
	waitFor(t, 10*time.Second, "the subscriber in the namespace to connect", func() bool {
		return n.stats()["connections"] == 1
	})
	if r := n.pub("user/blackholed", "still there?"); r.status != 200 {
		t.Fatalf("push to the connected subscriber = %d %s; want 200", r.status, r.body)
	}

	// The black hole: the namespace's end of the link goes down, then the
	// client dies; neither its FIN nor anything else can reach the node.
	run(t, "ip", "netns", "exec", ns.name, "ip", "link", "set", ns.peerDev, "down")
	sub.Process.Kill()
	cut := time.Now()
	// Without TCP_USER_TIMEOUT the kernel would retransmit for ~15 minutes;
	// the node must drop it within two heartbeats (the bound here is
	// generous for a loaded machine, and the time taken is logged).
	waitFor(t, 10*heartbeat, "the black-holed stream to be removed", func() bool {
		return n.stats()["connections"] == 0
	})
	t.Logf("black-holed stream removed %v after the link was cut (two heartbeats: %v)",
		time.Since(cut).Round(10*time.Millisecond), 2*heartbeat)
	if r := n.pub("user/blackholed", "gone?"); r.status != 404 {
		t.Errorf("push to the removed subscriber's user = %d %s; want 404", r.status, r.body)
	}
}
