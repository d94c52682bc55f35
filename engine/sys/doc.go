// Package sys is the engine's Linux layer: the epoll instance and the eventfd that wakes it
// (Poller, parked on Go's netpoller rather than blocking in epoll_wait), read, write and
// writev through RawSyscall on non-blocking sockets (Read, Write, Writev), and the sockets
// themselves: listening (Listen, BoundAddr), accepting without allocation (Acceptor), the
// per-connection options (SetupConn), a socket's peer and pending error (PeerAddr,
// SockError), and the process's open-files limit (OpenFilesLimit, RaiseOpenFilesLimit). Errors are wrapped with os.NewSyscallError, except
// Read, Write and Writev, whose bare errno the caller tests for EAGAIN and EINTR.
//
// It knows nothing of connections, handles or loops: the engine decides what an event's tag
// and generation mean, and only the engine imports it.
package sys
