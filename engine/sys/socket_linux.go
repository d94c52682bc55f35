package sys

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// listenBacklog is the accept queue asked of listen(2); the kernel caps it at
// net.core.somaxconn.
const listenBacklog = 4096

// Listen opens a non-blocking listening TCP socket bound to addr. An empty or
// unspecified IPv6 host gives a dual-stack socket; reusePort sets SO_REUSEPORT so that every
// loop can bind its own socket to the same address.
func Listen(addr string, reusePort bool) (int, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, err
	}
	host, _, _ := net.SplitHostPort(addr)
	family := unix.AF_INET
	var sa unix.Sockaddr
	ip4 := ta.IP.To4()
	switch {
	case host == "" || (ip4 == nil && ta.IP.IsUnspecified()):
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: ta.Port}
	case ip4 != nil:
		s := &unix.SockaddrInet4{Port: ta.Port}
		copy(s.Addr[:], ip4)
		sa = s
	default:
		family = unix.AF_INET6
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				s.ZoneId = uint32(ifi.Index)
			}
		}
		sa = s
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil && host == "" && family == unix.AF_INET6 {
		// No IPv6 on this host: fall back to IPv4 for a wildcard address.
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: ta.Port}
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	}
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := setupListener(fd, family, sa, host, reusePort); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setupListener(fd, family int, sa unix.Sockaddr, host string, reusePort bool) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if family == unix.AF_INET6 {
		v6only := 0
		if s, ok := sa.(*unix.SockaddrInet6); ok && host != "" && s.Addr != ([16]byte{}) {
			v6only = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return os.NewSyscallError("listen", err)
	}
	return nil
}

// BoundAddr returns the local address of socket fd.
func BoundAddr(fd int) (*net.TCPAddr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), s.Addr[:]...)), Port: s.Port}, nil
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(append([]byte(nil), s.Addr[:]...)), Port: s.Port}
		if s.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(s.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a, nil
	}
	return nil, errors.New("engine/sys: listener has a non-IP address")
}

// Acceptor holds the scratch space accept4 fills in, so that accepting allocates nothing.
type Acceptor struct {
	rsa    unix.RawSockaddrAny
	rsaLen uint32
}

// Accept takes one pending connection from listening socket fd: non-blocking, close-on-exec.
func (a *Acceptor) Accept(fd int) (int, netip.Addr, error) {
	a.rsaLen = unix.SizeofSockaddrAny
	r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd),
		uintptr(unsafe.Pointer(&a.rsa)), uintptr(unsafe.Pointer(&a.rsaLen)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.Addr{}, e
	}
	return int(r), a.peer(), nil
}

// peer converts the address accept4 stored into a netip.Addr (IPv4-mapped IPv6 unmapped).
func (a *Acceptor) peer() netip.Addr {
	switch a.rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.rsa))
		return netip.AddrFrom4(p.Addr)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&a.rsa))
		return netip.AddrFrom16(p.Addr).Unmap()
	}
	return netip.Addr{}
}

// SetupConn applies the per-connection socket options: TCP_NODELAY, SO_SNDBUF when
// sndbuf > 0, and TCP_USER_TIMEOUT when userTimeoutMs > 0.
func SetupConn(fd, sndbuf, userTimeoutMs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if userTimeoutMs > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, userTimeoutMs); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if sndbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndbuf); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

// PeerAddr returns the address of socket fd's peer (getpeername); false when the kernel
// has none (the peer is gone) or it is not IP.
func PeerAddr(fd int) (netip.Addr, bool) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return netip.Addr{}, false
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), true
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}

// SockError returns the pending error of socket fd (SO_ERROR) as a read error, ECONNRESET
// if none is set: what an EPOLLERR event means.
func SockError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v == 0 {
		v = int(unix.ECONNRESET)
	}
	return os.NewSyscallError("read", unix.Errno(v))
}

// OpenFilesLimit returns the RLIMIT_NOFILE soft limit (0 when it cannot be read), capped
// to an int32.
func OpenFilesLimit() int {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur > 1<<31-1 {
		return 1<<31 - 1
	}
	return int(r.Cur)
}

// RaiseOpenFilesLimit raises RLIMIT_NOFILE soft to hard and returns the new soft limit.
func RaiseOpenFilesLimit() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, os.NewSyscallError("getrlimit", err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return 0, os.NewSyscallError("setrlimit", err)
		}
	}
	return r.Cur, nil
}
