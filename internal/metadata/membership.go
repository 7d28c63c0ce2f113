package metadata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Membership of the Raft configuration.
//
// Voters are fixed by NodeConfig.Voters on the quorum's first start. Every
// other node is a broker-only member: it starts without bootstrapping,
// waits until the controller adds it as a non-voter (AddNonvoter, usually
// when the broker registers), then receives the log like any follower but
// never votes nor counts for commitment. Its membership is in the Raft
// log, so after a restart it finds itself in its stored configuration and
// keeps following without being added again.

// ErrRemoveVoter is returned by RemoveServer for a voter of the quorum:
// voters are fixed by the quorum's configuration, not removed at run time.
var ErrRemoveVoter = errors.New("metadata: cannot remove a voter of the metadata quorum")

// Server is a member of the latest Raft configuration.
type Server struct {
	ID    int32
	Addr  string // its controller listener (Raft and controller API)
	Voter bool   // false for a broker-only member (non-voter)
}

// Servers returns the members of the latest Raft configuration known to
// this node (possibly not yet committed), in configuration order. A node
// waiting to be added has none.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("metadata: read configuration: %w", mapRaftError(err))
	}
	conf := f.Configuration()
	out := make([]Server, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		id, err := parseServerID(s.ID)
		if err != nil {
			return nil, fmt.Errorf("metadata: read configuration: %w", err)
		}
		out = append(out, Server{ID: id, Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

// IsVoter reports whether this node is a voter in its latest known Raft
// configuration.
func (n *Node) IsVoter() bool {
	servers, err := n.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if s.ID == n.cfg.NodeID {
			return s.Voter
		}
	}
	return false
}

// LeaderAddr returns the id of the quorum leader and the address of its
// controller listener (where DialControllerAPI reaches its controller
// API), if this node knows a leader.
func (n *Node) LeaderAddr() (id int32, addr string, ok bool) {
	a, sid := n.raft.LeaderWithID()
	if sid == "" || a == "" {
		return 0, "", false
	}
	id, err := parseServerID(sid)
	if err != nil {
		return 0, "", false
	}
	return id, string(a), true
}

// AddNonvoter makes node id, whose controller listener is at addr, a
// non-voting member: it receives the metadata log and becomes ready once
// caught up. Only the controller may call it (ErrNotController otherwise).
// It is idempotent: a member with that address is left as it is; a member
// with another address gets the new one (a voter stays a voter). It waits
// until the change is committed or ctx ends (ErrTimeout; the change may
// still happen).
func (n *Node) AddNonvoter(ctx context.Context, id int32, addr string) error {
	if id < 0 || addr == "" {
		return fmt.Errorf("metadata: add non-voter %d at %q: %w", id, addr, ErrInvalidRecord)
	}
	if err := n.waitLeader(ctx); err != nil {
		return fmt.Errorf("metadata: add non-voter %d: %w", id, err)
	}
	servers, err := n.Servers()
	if err != nil {
		return fmt.Errorf("metadata: add non-voter %d: %w", id, err)
	}
	for _, s := range servers {
		if s.ID == id && s.Addr == addr {
			return nil
		}
	}
	timeout := changeTimeout(ctx)
	if err := waitFuture(ctx, n.raft.AddNonvoter(serverID(id), raft.ServerAddress(addr), 0, timeout)); err != nil {
		return fmt.Errorf("metadata: add non-voter %d at %s: %w", id, addr, err)
	}
	n.log.Info("metadata: added a non-voting member", "member", id, "addr", addr)
	return nil
}

// RemoveServer removes the non-voting member id from the Raft
// configuration; it stops receiving the metadata log. Removing a node that
// is not a member does nothing; removing a voter fails with
// ErrRemoveVoter. Only the controller may call it (ErrNotController
// otherwise). It waits until the change is committed or ctx ends.
func (n *Node) RemoveServer(ctx context.Context, id int32) error {
	if err := n.waitLeader(ctx); err != nil {
		return fmt.Errorf("metadata: remove server %d: %w", id, err)
	}
	servers, err := n.Servers()
	if err != nil {
		return fmt.Errorf("metadata: remove server %d: %w", id, err)
	}
	found := false
	for _, s := range servers {
		if s.ID != id {
			continue
		}
		if s.Voter {
			return fmt.Errorf("metadata: remove server %d: %w", id, ErrRemoveVoter)
		}
		found = true
	}
	if !found {
		return nil
	}
	if err := waitFuture(ctx, n.raft.RemoveServer(serverID(id), 0, changeTimeout(ctx))); err != nil {
		return fmt.Errorf("metadata: remove server %d: %w", id, err)
	}
	n.log.Info("metadata: removed a non-voting member", "member", id)
	return nil
}

// changeTimeout is how long Raft may wait to enqueue a configuration
// change: ctx's deadline, else DefaultProposeTimeout.
func changeTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return DefaultProposeTimeout
}

// waitFuture waits for f or ctx. When ctx ends first it returns ErrTimeout
// and leaves a goroutine waiting on f; Raft resolves every future, at the
// latest at shutdown, so the goroutine ends.
func waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return mapRaftError(err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w (%w)", ErrTimeout, ctx.Err())
	}
}

func parseServerID(id raft.ServerID) (int32, error) {
	v, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("metadata: raft server id %q is not a node id: %w", id, err)
	}
	return int32(v), nil
}
