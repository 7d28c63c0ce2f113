// Package freeport finds loopback TCP addresses for test servers that are
// started later by another process (or restarted on the same address).
//
// Listening on port 0 and closing the listener hands back a port from the
// kernel's ephemeral range, the same range the kernel takes the source
// ports of outgoing connections from: a test that opens connections while
// a node starts (or while a proxy is down between a kill and a restart)
// can see that port taken, and the node fails with "address already in
// use". The ports this package gives are outside the ephemeral range, so
// only another listener can take them.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// The range the ports are drawn from when the ephemeral range cannot be
// read, and its bounds otherwise.
const (
	minPort = 10000
	// defaultEphemeralLow is Linux's default ip_local_port_range start.
	defaultEphemeralLow = 32768
	maxAttempts         = 200
)

// ephemeralLow returns the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeralLow
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return defaultEphemeralLow
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= minPort+1000 {
		return defaultEphemeralLow
	}
	return low
}

// Addr returns host:port for a port below the ephemeral range that was
// free a moment ago (it was bound and released).
func Addr(host string) (string, error) {
	high := ephemeralLow()
	var last error
	for range maxAttempts {
		port := minPort + rand.IntN(high-minPort)
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			last = err
			continue
		}
		ln.Close()
		return addr, nil
	}
	return "", fmt.Errorf("freeport: no free port on %s below %d after %d tries: %w", host, high, maxAttempts, last)
}
