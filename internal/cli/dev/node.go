package dev

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Port offsets from --base-port: node i (1-based) listens for Kafka on
// base+i-1, for the controller on base+100+i-1 and for HTTP on base+200+i-1.
const (
	controllerPortOffset = 100
	httpPortOffset       = 200
	// MaxNodes is the largest --nodes: more would make the Kafka ports run
	// into the controller ports.
	MaxNodes = controllerPortOffset
)

// VoterCount returns how many of a cluster's nodes are voters of the
// metadata quorum: 1 for 1 or 2 nodes, 3 for 3 or 4, 5 from 5 on. The voters
// are the nodes with the lowest ids.
func VoterCount(nodes int) int {
	switch {
	case nodes >= 5:
		return 5
	case nodes >= 3:
		return 3
	default:
		return 1
	}
}

// NodeSpec is everything a `samsa server` process of a local cluster is
// started with.
type NodeSpec struct {
	ID             int32
	KafkaAddr      string // the Kafka listener
	AdvertisedAddr string // what clients are told; "" means KafkaAddr
	ControllerAddr string // the controller (Raft) listener
	// AdvertisedControllerAddr is what other nodes dial to reach a
	// broker-only node's controller listener; "" means ControllerAddr.
	// (A voter is reached at its address in Voters.)
	AdvertisedControllerAddr string
	HTTPAddr                 string // "" disables the HTTP listener
	Voters                   string // controller.quorum.voters: "1@host:port,..."
	Voter                    bool   // whether ID is among Voters
	DataDir                  string
	LogPath                  string            // where the process's output goes
	Props                    map[string]string // extra properties (--set name=value; "{id}" becomes ID)
}

// Args returns the command line of the node after the program name:
// "server", then its flags. Extra properties come sorted by name, so the
// line is the same on every start; "{id}" in a value becomes the node's id
// (--set broker.rack=rack-{id} gives each node its own rack).
func (s NodeSpec) Args() []string {
	args := []string{"server",
		"--node-id", strconv.FormatInt(int64(s.ID), 10),
		"--data-dir", s.DataDir,
		"--kafka-addr", s.KafkaAddr,
		"--controller-addr", s.ControllerAddr,
		"--http-addr", s.HTTPAddr,
	}
	if s.AdvertisedAddr != "" {
		args = append(args, "--advertised-addr", s.AdvertisedAddr)
	}
	if s.AdvertisedControllerAddr != "" {
		args = append(args, "--advertised-controller-addr", s.AdvertisedControllerAddr)
	}
	if s.Voters != "" {
		args = append(args, "--voters", s.Voters)
	}
	names := make([]string, 0, len(s.Props))
	for k := range s.Props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "--set", k+"="+strings.ReplaceAll(s.Props[k], "{id}", strconv.Itoa(int(s.ID))))
	}
	return args
}

// ReservedProperties are the properties `samsa dev` sets itself on every
// node; --set may not override them.
var ReservedProperties = []string{
	"node.id", "log.dirs", "log.dir", "listeners", "advertised.listeners",
	"controller.listener", "controller.advertised.listener", "controller.quorum.voters", "http.listener",
}

// plan lays out a local cluster of n nodes under dir with ports from base.
func plan(dir string, n, base int, props map[string]string) ([]NodeSpec, error) {
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("--nodes %d: want 1 to %d", n, MaxNodes)
	}
	if base < 1 || base+httpPortOffset+n-1 > 65535 {
		return nil, fmt.Errorf("--base-port %d: want 1 to %d for %d nodes (ports up to base+%d are used)",
			base, 65535-httpPortOffset-n+1, n, httpPortOffset+n-1)
	}
	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	voters := VoterCount(n)
	var vs []string
	for i := 1; i <= voters; i++ {
		vs = append(vs, strconv.Itoa(i)+"@"+addr(base+controllerPortOffset+i-1))
	}
	specs := make([]NodeSpec, n)
	for i := 1; i <= n; i++ {
		nodeDir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		specs[i-1] = NodeSpec{
			ID:             int32(i),
			KafkaAddr:      addr(base + i - 1),
			ControllerAddr: addr(base + controllerPortOffset + i - 1),
			HTTPAddr:       addr(base + httpPortOffset + i - 1),
			Voters:         strings.Join(vs, ","),
			Voter:          i <= voters,
			DataDir:        nodeDir,
			LogPath:        filepath.Join(nodeDir, "samsa.log"),
			Props:          props,
		}
	}
	return specs, nil
}

// checkPortsFree returns an error naming every port of specs that something
// already listens on.
func checkPortsFree(specs []NodeSpec) error {
	var taken []string
	for _, s := range specs {
		for _, p := range []struct{ what, addr string }{
			{"Kafka", s.KafkaAddr}, {"controller", s.ControllerAddr}, {"HTTP", s.HTTPAddr},
		} {
			ln, err := net.Listen("tcp", p.addr)
			if err != nil {
				taken = append(taken, fmt.Sprintf("%s (node %d %s)", p.addr, s.ID, p.what))
				continue
			}
			ln.Close()
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("ports in use: %s; stop what holds them or pick another --base-port",
			strings.Join(taken, ", "))
	}
	return nil
}

// parseSets turns --set name=value entries into a map, refusing the
// properties dev sets itself.
func parseSets(sets []string) (map[string]string, error) {
	props := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want name=value", s)
		}
		for _, r := range ReservedProperties {
			if k == r {
				return nil, fmt.Errorf("--set %s: samsa dev sets this property itself (use --dir and --base-port)", k)
			}
		}
		props[k] = v
	}
	return props, nil
}
