package metadata

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestFSMTarget checks the index a follower's image must reach before it
// is ready: the last command at or below the commit index, skipping the
// configuration and no-op entries that never reach the FSM.
func TestFSMTarget(t *testing.T) {
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	var last Image
	for i := range 5 {
		last = propose(t, n, broker(int32(i+1)))
	}
	ci := n.raft.CommitIndex()
	if got := n.fsmTarget(ci); got != last.Index() {
		t.Fatalf("fsmTarget(%d) = %d, want the last command's index %d", ci, got, last.Index())
	}
	// Index 1 is the bootstrap configuration: nothing for the FSM.
	if got := n.fsmTarget(1); got != 0 {
		t.Fatalf("fsmTarget(1) = %d, want 0 (a configuration entry)", got)
	}
	if got := n.fsmTarget(0); got != 0 {
		t.Fatalf("fsmTarget(0) = %d, want 0", got)
	}
	// Every command below the target is reflected once the image reaches
	// it: the image index is that of the last applied command.
	if img := n.Image(); img.Index() < n.fsmTarget(ci) {
		t.Fatalf("image index %d below target %d after the proposals returned", img.Index(), n.fsmTarget(ci))
	}
}

// A follower restarted with a long log is ready only once its image
// reflects the whole committed log. Raft advances AppliedIndex when it
// hands entries to the FSM goroutine, before the FSM applied them, so
// readiness used to be reported while the image still replayed old
// entries: a broker then acted on leader epochs seconds old.
func TestFollowerReadyAfterRestartReflectsLog(t *testing.T) {
	addrs := freeAddrs(t, 3)
	voters := []Voter{{1, addrs[0]}, {2, addrs[1]}, {3, addrs[2]}}
	nodes := map[int32]*Node{}
	dirs := map[int32]string{}
	for _, v := range voters {
		dirs[v.ID] = t.TempDir()
		nodes[v.ID] = clusterNode(t, v.ID, dirs[v.ID], v.Addr, voters)
	}
	for _, n := range nodes {
		waitReady(t, n)
	}
	leader := leaderOf(t, nodes)
	var follower *Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	// Many records, proposed concurrently so Raft batches them; each
	// apply copies the broker map, so replaying them takes a while.
	const records, workers = 3000, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < records; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := leader.Propose(ctx, broker(int32(100+i)))
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("propose: %v", err)
	}
	want := leader.Image().Index()
	id := follower.cfg.NodeID
	waitFor(t, 10*time.Second, "the follower to apply everything", func() bool { return follower.Image().Index() >= want })
	if err := follower.Close(); err != nil {
		t.Fatalf("close node %d: %v", id, err)
	}
	restarted := clusterNode(t, id, dirs[id], addrs[id-1], voters)
	waitReady(t, restarted)
	if got := restarted.Image().Index(); got < want {
		t.Fatalf("node %d ready with its image at index %d, before the committed %d", id, got, want)
	}
}
