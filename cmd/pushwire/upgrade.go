package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/handoff"
	"github.com/pushwire/pushwire/server"
)

// hookFlushOnExit bounds how long the old process sends its queued hook events before it exits.
const hookFlushOnExit = 2 * time.Second

// handoffEnv names the descriptor of the handoff socket a process started by SIGUSR2
// inherits; a process that finds it takes over from its parent instead of listening.
const handoffEnv = "PUSHWIRE_HANDOFF_FD"

// registerUpgradeFlags adds the upgrade's settings to fs.
func registerUpgradeFlags(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("upgrade-timeout", 30*time.Second,
		"SIGUSR2: how long the new binary has to take every connection before this process carries on with them")
}

// upgrader runs zero-downtime upgrades on SIGUSR2 (SPEC §11): the binary now at this
// executable's path is started with the same arguments and the handoff socket as an inherited
// descriptor; the node hands it everything (server.HandOff) and exits 0 once it is ready, or
// carries on if it is not. One at a time.
type upgrader struct {
	srv     *server.Server
	log     *slog.Logger
	timeout time.Duration
	args    []string
	exit    func(code int) // os.Exit: the old process ends when the new one serves

	mu      sync.Mutex // guards running; held by settle while an upgrade finishes
	running bool
	idle    *sync.Cond
}

// startOrTakeOver starts srv: from the handoff socket a parent passed (PUSHWIRE_HANDOFF_FD),
// or by opening its listeners. SIGUSR2 is caught from here on (its default would kill the
// node).
func startOrTakeOver(srv *server.Server, log *slog.Logger, timeout time.Duration, args []string) (*upgrader, error) {
	u := &upgrader{srv: srv, log: log, timeout: timeout, args: args, exit: os.Exit}
	u.idle = sync.NewCond(&u.mu)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	if err := u.start(); err != nil {
		return nil, err
	}
	go u.serve(usr2)
	return u, nil
}

func (u *upgrader) start() error {
	v, ok := os.LookupEnv(handoffEnv)
	if !ok {
		if err := u.srv.Start(); err != nil {
			return err
		}
		u.notify("READY=1")
		return nil
	}
	os.Unsetenv(handoffEnv) // not for this process's own upgrades
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return fmt.Errorf("%s=%q: want an inherited descriptor", handoffEnv, v)
	}
	f := os.NewFile(uintptr(fd), "handoff")
	c, err := handoff.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", handoffEnv, err)
	}
	defer c.Close()
	crash := os.Getenv("PUSHWIRE_TEST_CRASH_IN_HANDOFF")
	if crash == "1" && server.Version() == "crash-test" {
		// Only a build made for the test of a crash during the handoff has this: it says it
		// started, so the old process detaches and sends everything, then dies without
		// reading it; the old process must take its connections back. The second lets the
		// test send a second SIGUSR2 during the upgrade.
		handoff.Started(c, time.Now().Add(u.timeout))
		time.Sleep(time.Second)
		os.Exit(3)
	}
	if n, ok := strings.CutPrefix(crash, "after:"); ok && server.Version() == "crash-test" {
		// The same build dies after adopting n connections: a handoff streamed, the new
		// process holds some of them when it dies, the old one must still resume them all.
		after, _ := strconv.Atoi(n)
		u.srv.OnAdopted(func(conns int) {
			if conns == after {
				u.log.Warn("crash-test: exiting after adopting some connections", "conns", conns)
				os.Exit(3)
			}
		})
	}
	meta, err := u.srv.TakeOver(c, time.Now().Add(u.timeout))
	if err != nil {
		return fmt.Errorf("taking over from the old process: %w", err)
	}
	u.log.Info("upgrade: serving every connection of the old process", "from_version", meta.Version, "version", server.Version())
	u.notify("MAINPID=" + strconv.Itoa(os.Getpid()) + "\nREADY=1")
	return nil
}

// serve runs an upgrade for each SIGUSR2; one arriving during an upgrade is ignored.
func (u *upgrader) serve(usr2 <-chan os.Signal) {
	for range usr2 {
		u.mu.Lock()
		busy := u.running
		u.running = true
		u.mu.Unlock()
		if busy {
			u.log.Warn("SIGUSR2 ignored: an upgrade is already running")
			continue
		}
		go u.upgrade()
	}
}

// settle waits until no upgrade runs, so that a drain never shuts down listening sockets
// another process is being handed.
func (u *upgrader) settle() {
	u.mu.Lock()
	for u.running {
		u.idle.Wait()
	}
	u.mu.Unlock()
}

func (u *upgrader) upgrade() {
	start := time.Now()
	pid, err := u.handOff()
	if err == nil {
		// systemd (Type=notify): the unit's main process is the new one from here, so this
		// one's exit does not stop the unit.
		u.notify("MAINPID=" + strconv.Itoa(pid))
		u.srv.HandedOver(hookFlushOnExit)
		u.log.Info("upgrade: the new process took every connection; exiting", "took", time.Since(start))
		u.exit(0)
		return
	}
	u.log.Error("upgrade failed; this process keeps its connections and carries on", "err", err, "took", time.Since(start))
	u.mu.Lock()
	u.running = false
	u.idle.Broadcast()
	u.mu.Unlock()
}

// handOff starts the new binary and hands it the node; it returns the new process's id.
func (u *upgrader) handOff() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	c, child, err := handoff.Pair()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cmd := exec.Command(exe, u.args...)
	cmd.Env = append(withoutHandoffEnv(os.Environ()), handoffEnv+"=3") // ExtraFiles[0] is fd 3
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	child.Close()
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", exe, err)
	}
	u.log.Info("upgrade: started the new binary", "path", exe, "pid", cmd.Process.Pid, "timeout", u.timeout)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := u.srv.HandOff(c, time.Now().Add(u.timeout)); err != nil {
		// The new process never served (no go was sent): end it if it still runs.
		cmd.Process.Kill()
		if werr := <-exited; werr != nil {
			err = fmt.Errorf("%w (new process: %v)", err, werr)
		}
		return 0, err
	}
	return cmd.Process.Pid, nil
}

// notify tells systemd, when it runs the node, about a change of state; a failure is logged.
func (u *upgrader) notify(state string) {
	if err := sdNotify(state); err != nil {
		u.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

func withoutHandoffEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, handoffEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}
