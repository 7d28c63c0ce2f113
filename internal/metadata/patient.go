package metadata

import (
	"time"

	"github.com/hashicorp/raft"
)

// Bounds of patientTransport's retries.
const (
	// patientMaxHold is how long one AppendEntries call keeps retrying an
	// unreachable peer before it returns the failure to Raft.
	patientMaxHold = 60 * time.Second
	// patientFirstRetry and patientMaxRetry bound the pause between two
	// tries; it doubles from the first to the most.
	patientFirstRetry = 50 * time.Millisecond
	patientMaxRetry   = 500 * time.Millisecond
)

// patientTransport is Raft's network transport with one change: a failed
// AppendEntries is tried again, every half second at most, until the peer
// answers, patientMaxHold passes or the node closes, before Raft sees the
// failure.
//
// Why: hashicorp/raft counts the failures of its replication to a peer and
// waits longer after each, up to about 10 s, and only a success resets the
// count. A peer that was down or cut off for twenty seconds or more would
// then get the log entries it missed up to 10 s after it is back, and a
// broker cannot be unfenced before it has them: every restart after a long
// outage would leave its partitions under-replicated for seconds longer.
// Holding the call instead keeps the count low (one failure per
// patientMaxHold), and the first try after the peer is back succeeds.
//
// Retrying is safe: AppendEntries is idempotent in Raft (a follower checks
// the previous entry and term of every request), and a request that waits
// is no different from one delayed by the network. Heartbeats go through
// here too; they carry no entries, and a leader's lease is counted from
// successful contacts only, so a held heartbeat changes nothing a failed
// one would not.
//
// Goroutines: none of its own. A held call runs on Raft's per-peer
// replication or heartbeat goroutine; it ends at the latest when done is
// closed (Node.Close closes it before shutting Raft down, which waits for
// those goroutines).
type patientTransport struct {
	*raft.NetworkTransport
	done    <-chan struct{}
	maxHold time.Duration
}

// AppendEntries sends req to target, trying again while target cannot be
// reached (raft.Transport).
func (t *patientTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.NetworkTransport.AppendEntries(id, target, req, resp)
	if err == nil {
		return nil
	}
	deadline := time.Now().Add(t.maxHold)
	pause := patientFirstRetry
	for time.Now().Before(deadline) {
		timer := time.NewTimer(pause)
		select {
		case <-t.done:
			timer.Stop()
			return err
		case <-timer.C:
		}
		if err = t.NetworkTransport.AppendEntries(id, target, req, resp); err == nil {
			return nil
		}
		pause = min(2*pause, patientMaxRetry)
	}
	return err
}
