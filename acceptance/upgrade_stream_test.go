package acceptance

import (
	"path/filepath"
	"testing"
	"time"
)

// TestUpgradeCrashedMidStream: the new binary dies after it adopted some of the connections —
// the handoff is streamed, so it holds part of them (their descriptors, their table entries)
// when it dies. The old process takes everything back and carries on: no stream notices, no
// message answered 200 is lost, TLS streams included; a later upgrade to a good binary then
// succeeds.
func TestUpgradeCrashedMidStream(t *testing.T) {
	dir, installed := buildInstalled(t, "crash-test", "v2")
	u, tlsEdge := startTLSUpgradable(t, installed, []string{"PUSHWIRE_TEST_CRASH_IN_HANDOFF=after:5"})
	r := newUpgradeRun(upTopics)
	r.subscribeTLSToo(t, u.edge, tlsEdge, 3, 2) // 12 plaintext and 16 TLS streams
	r.publish(t, u.api, 5*time.Millisecond)
	r.published(t, 100)
	u.install(filepath.Join(dir, "pushwire-crash-test"))
	u.usr2()
	u.waitLog(`crash-test: exiting after adopting some connections.* conns=5`)
	u.waitLog(`upgrade failed; this process keeps its connections`)
	r.carriesOnThenUpgrades(t, u, dir)
}

// carriesOnThenUpgrades checks a node after a failed upgrade — it still serves, as v1, the
// failure counted — then upgrades it to dir's good binary and checks every stream (finish).
func (r *upgradeRun) carriesOnThenUpgrades(t *testing.T, u *upgradable, dir string) {
	t.Helper()
	r.published(t, 100)
	select {
	case <-u.exited:
		t.Fatalf("the old process exited (%v) although the upgrade failed", u.waitErr)
	default:
	}
	st := u.stats(t)
	if st["version"] != "v1" || st["upgrades"] != 0.0 || st["upgrades_failed"] != 1.0 {
		t.Errorf("/stats after the failed upgrade: version %v, upgrades %v, upgrades_failed %v; want v1, 0, 1",
			st["version"], st["upgrades"], st["upgrades_failed"])
	}
	// The node is whole again: a good binary takes it over.
	u.upgradeTo(filepath.Join(dir, "pushwire-v2"))
	r.published(t, 100)
	if st := u.stats(t); st["version"] != "v2" {
		t.Errorf("/stats version after the second upgrade = %v; want v2", st["version"])
	}
	r.finish(t)
}
