package perf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pushwire/pushwire/internal/freeport"
)

// Server is a server process pushbench started (suite, tests).
type Server struct {
	Target Target
	cmd    *exec.Cmd
	done   chan struct{}
}

// ServerConfig says how to start one.
type ServerConfig struct {
	// CPUs pins the server with taskset (e.g. "0"); empty leaves it unpinned.
	CPUs string
	// Stderr receives the server's logs; nil discards them.
	Stderr io.Writer
	// Args are extra flags (pushwire) appended after the listen flags.
	Args []string
}

// WaitDial waits until something accepts TCP connections on addr, or within passes.
func WaitDial(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("perf: nothing listens on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a loopback port held by this process until it exits
// (internal/freeport says why not port 0).
func FreePort() (int, error) {
	ports, err := freeport.Take(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

func pinned(cpus, bin string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
}

// StartPushwire runs a standalone pushwire binary on free loopback ports and waits until
// both listeners accept.
func StartPushwire(bin string, cfg ServerConfig) (*Server, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	edge := "127.0.0.1:" + strconv.Itoa(ports[0])
	api := "127.0.0.1:" + strconv.Itoa(ports[1])
	args := append([]string{"--listen", edge, "--api-listen", api,
		"--cluster-listen", "127.0.0.1:" + strconv.Itoa(ports[2])}, cfg.Args...)
	cmd := pinned(cfg.CPUs, bin, args...)
	cmd.Stdout, cmd.Stderr = cfg.Stderr, cfg.Stderr
	s, err := start(cmd)
	if err != nil {
		return nil, err
	}
	// taskset execs the server in place, so the pid is the server's.
	s.Target = Target{Kind: KindPushwire, Edge: edge, API: api, Format: FormatNDJSON, Pids: []int{cmd.Process.Pid}}
	if err := s.waitListening(edge, api); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// StartNchan runs ../shared/peers/nchan/start.sh (script) on a free port and reads the
// nginx worker pid it prints. cfg.Args go after the port (a Redis port makes Nchan keep
// its messages there, as a Nchan cluster does).
func StartNchan(script string, cfg ServerConfig) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := pinned(cfg.CPUs, script, append([]string{strconv.Itoa(port)}, cfg.Args...)...)
	cmd.Stderr = cfg.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s, err := start(cmd)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	pid := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "nchan worker pid: "); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					pid <- n
				}
			}
		}
	}()
	select {
	case p := <-pid:
		s.Target = Target{Kind: KindNchan, Edge: addr, API: addr, Format: FormatSSE, Pids: []int{p}}
	case <-s.done:
		return nil, errors.New("perf: nchan start script exited (is nginx with libnginx-mod-nchan installed?)")
	case <-time.After(15 * time.Second):
		s.Stop()
		return nil, errors.New("perf: nchan did not report its worker pid")
	}
	if err := s.waitListening(addr); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func start(cmd *exec.Cmd) (*Server, error) {
	// Its own process group, so Stop reaches nginx's master and workers that start.sh runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

func (s *Server) waitListening(addrs ...string) error {
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				return fmt.Errorf("perf: server exited before listening on %s", a)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("perf: nothing listens on %s: %w", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop sends SIGTERM to the server's process group, waits up to 35 s (pushwire drains for
// up to 30 s by default), then kills the group.
func (s *Server) Stop() {
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(35 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.done
	}
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// BuildPushwire compiles ./cmd/pushwire of the module at dir into a temporary binary.
func BuildPushwire(dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "pushbench-")
	if err != nil {
		return "", err
	}
	bin := tmp + "/pushwire"
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/pushwire")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("perf: go build ./cmd/pushwire: %v\n%s", err, out)
	}
	return bin, nil
}

// StartRedis runs a throwaway redis-server on a free loopback port (no persistence), for
// cluster runs; Target.Edge holds its address.
func StartRedis(cfg ServerConfig) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := pinned(cfg.CPUs, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	cmd.Stderr = cfg.Stderr
	s, err := start(cmd)
	if err != nil {
		return nil, err
	}
	s.Target = Target{Edge: addr, Pids: []int{cmd.Process.Pid}}
	if err := s.waitListening(addr); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// StartFloor runs "exe floor-server --listen ADDR" (exe is pushbench) on a free loopback
// port, so the floor is its own process, pinned and sampled like the other servers.
func StartFloor(exe string, cfg ServerConfig) (*Server, error) {
	return startOnePort(KindFloor, cfg, func(port string) *exec.Cmd {
		return pinned(cfg.CPUs, exe, "floor-server", "--listen", "127.0.0.1:"+port)
	})
}

// StartCentrifugo runs ../shared/peers/centrifugo/start.sh (script) on a free port. It
// first runs "script --install", unpinned and untimed, which builds the binary from the
// Go module proxy when it is missing (~3 min on a fresh machine), so that the build
// neither runs on the server's core nor counts against the listen deadline. The script
// execs Centrifugo (taskset too), so the pid is Centrifugo's.
func StartCentrifugo(script string, cfg ServerConfig) (*Server, error) {
	install := exec.Command(script, "--install")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("perf: %s --install: %v\n%s", script, err, out)
	}
	return startOnePort(KindCentrifugo, cfg, func(port string) *exec.Cmd {
		return pinned(cfg.CPUs, script, port)
	})
}

// startOnePort starts the command made for a free loopback port, which serves both
// subscribers and publishes (SSE streams), and waits until it accepts. The command must
// exec the server in place, so that its pid is the server's.
func startOnePort(kind Kind, cfg ServerConfig, command func(port string) *exec.Cmd) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := command(strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = cfg.Stderr, cfg.Stderr
	s, err := start(cmd)
	if err != nil {
		return nil, err
	}
	s.Target = Target{Kind: kind, Edge: addr, API: addr, Format: FormatSSE, Pids: []int{cmd.Process.Pid}}
	if err := s.waitListening(addr); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
