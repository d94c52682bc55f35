package main

import (
	"net"
	"os"
)

// sdNotify sends state to the service manager when the process runs under systemd with
// Type=notify (NOTIFY_SOCKET is set; an address starting with '@' is abstract, which the net
// package maps). Outside systemd it does nothing. The upgrade uses it to move the unit's main
// PID to the new process (MAINPID=), so that the old one's exit does not stop the unit.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
