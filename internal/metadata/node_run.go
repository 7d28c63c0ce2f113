package metadata

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// run is the node's one long-lived goroutine besides Raft's own. It is
// started by Open, stopped by Close (n.stop), and owns leadership
// transitions: it opens the leader gate after the post-election barrier,
// writes the cluster id on a brand-new cluster, and decides readiness.
func (n *Node) run() {
	defer n.wg.Done()
	leaderCh := n.raft.LeaderCh()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	pollC := poll.C
	for {
		select {
		case <-n.stop:
			n.endLeadership()
			return
		case isLeader := <-leaderCh:
			if isLeader {
				n.lead()
			} else {
				n.endLeadership()
			}
		case <-pollC:
			// A follower is ready once it knows a leader and has applied
			// what it knows to be committed.
			if n.followerCaughtUp() {
				n.markReady()
			}
		}
		select {
		case <-n.ready:
			pollC = nil
		default:
		}
	}
}

func (g *leaderGate) end() {
	select {
	case <-g.lost:
	default:
		close(g.lost)
	}
}

func (n *Node) currentGate() *leaderGate {
	n.gateMu.Lock()
	defer n.gateMu.Unlock()
	return n.gate
}

func (n *Node) endLeadership() {
	n.currentGate().end()
}

// lead runs when this node becomes the leader: wait until every entry of
// earlier terms is applied (so that decisions see the whole history), make
// sure the cluster has an id, then let proposals through.
func (n *Node) lead() {
	g := newGate()
	n.gateMu.Lock()
	old := n.gate
	n.gate = g
	n.gateMu.Unlock()
	old.end()

	start := time.Now()
	if err := n.raft.Barrier(0).Error(); err != nil {
		n.log.Warn("metadata: barrier after election failed", "err", err)
		return
	}
	if n.Image().ClusterID() == "" {
		id := n.cfg.ClusterID
		if id == "" {
			u, err := NewUUID(nil)
			if err != nil {
				n.log.Error("metadata: cannot make a cluster id", "err", err)
				return
			}
			id = u.String()
		}
		data, err := EncodeRecord(InitCluster{ClusterID: id})
		if err != nil {
			n.log.Error("metadata: cannot encode the cluster id", "err", err)
			return
		}
		f := n.raft.Apply(data, 0)
		if err := f.Error(); err != nil {
			n.log.Warn("metadata: writing the cluster id failed", "err", err)
			return
		}
		if res, _ := f.Response().(applyResult); res.err != nil && !errors.Is(res.err, ErrClusterIDSet) {
			n.log.Error("metadata: cluster id rejected", "err", res.err)
			return
		}
	}
	close(g.ready)
	n.log.Info("metadata: this node is the controller", "index", n.Image().Index(),
		"cluster_id", n.Image().ClusterID(), "catch_up", time.Since(start))
	n.markReady()
}

func (n *Node) followerCaughtUp() bool {
	if n.raft.State() == raft.Leader {
		return false
	}
	if _, id := n.raft.LeaderWithID(); id == "" {
		return false
	}
	ci := n.raft.CommitIndex()
	if ci == 0 || n.raft.AppliedIndex() < ci {
		return false
	}
	// Raft advances AppliedIndex when it hands entries to the FSM
	// goroutine, not when the FSM has applied them: a node restarted with a
	// long log used to report ready while its image still lagged seconds of
	// history behind, and the broker then acted on stale leader epochs
	// (a replica whose log already held a newer epoch failed the first
	// reconcile with ErrStaleEpoch and the process exited). Wait for the
	// image itself to reach the last command at or below the commit index.
	return n.Image().Index() >= n.fsmTarget(ci) && n.Image().ClusterID() != ""
}

// maxTargetScan bounds how many log entries fsmTarget looks at.
const maxTargetScan = 4096

// fsmTarget returns the index of the last entry at or below ci that Raft
// hands to the FSM (a command; no-ops, barriers and configuration entries
// never reach Apply, so the image index does not advance for them). It
// returns 0 when no such entry is left in the log (earlier entries are in
// the snapshot the FSM was restored from) or none is found within
// maxTargetScan entries.
func (n *Node) fsmTarget(ci uint64) uint64 {
	first, err := n.store.FirstIndex()
	if err != nil {
		return 0
	}
	for i, scanned := ci, 0; i >= first && i > 0 && scanned < maxTargetScan; i, scanned = i-1, scanned+1 {
		var l raft.Log
		if err := n.store.GetLog(i, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

func (n *Node) markReady() {
	n.readyOnce.Do(func() {
		img := n.Image()
		if n.cfg.ClusterID != "" && img.ClusterID() != n.cfg.ClusterID {
			n.readyErr = fmt.Errorf("metadata: the stored cluster id %q is not the configured %q", img.ClusterID(), n.cfg.ClusterID)
		}
		close(n.ready)
	})
}

// WaitReady blocks until a leader is known and this node's image reflects
// the log up to where it was committed when the node learned it (for the
// leader: every entry of earlier terms, through a barrier), and the
// cluster id is set. It returns ctx's error, ErrClosed, or an error if the
// stored cluster id differs from NodeConfig.ClusterID.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.ready:
		return n.readyErr
	case <-ctx.Done():
		return fmt.Errorf("metadata: wait ready: %w", ctx.Err())
	case <-n.stop:
		return ErrClosed
	}
}

// LeaderImage returns the latest image if this node is the controller and
// has applied every entry of earlier terms, so that a decision taken on
// the image sees all of history. It waits (bounded by ctx) for that
// catch-up right after an election; it returns ErrNotController on a
// follower.
func (n *Node) LeaderImage(ctx context.Context) (Image, error) {
	if err := n.waitLeader(ctx); err != nil {
		return Image{}, err
	}
	return n.Image(), nil
}

func (n *Node) waitLeader(ctx context.Context) error {
	select {
	case <-n.stop:
		return ErrClosed
	default:
	}
	if n.raft.State() != raft.Leader {
		return ErrNotController
	}
	g := n.currentGate()
	select {
	case <-g.ready:
	case <-g.lost:
		return ErrNotController
	case <-ctx.Done():
		return fmt.Errorf("metadata: wait for leadership: %w (%w)", ErrTimeout, ctx.Err())
	case <-n.stop:
		return ErrClosed
	}
	select {
	case <-g.lost:
		return ErrNotController
	default:
		return nil
	}
}

// Propose replicates rec through Raft and returns the image right after it
// was applied. Errors: ErrNotController (not the leader, or leadership lost
// before commit: the outcome is then unknown), ErrTimeout (ctx ended or
// DefaultProposeTimeout passed first; the record may still be applied),
// ErrClosed, ErrInvalidRecord from encoding, or the state machine's
// rejection (ErrTopicExists, ...), in which case the returned image is the
// one the record was rejected against.
//
// When ctx can end, Propose waits on the Raft future in a short-lived
// goroutine that ends when Raft resolves the future (at the latest when
// the node closes).
func (n *Node) Propose(ctx context.Context, rec Record) (Image, error) {
	data, err := EncodeRecord(rec)
	if err != nil {
		return Image{}, err
	}
	if err := n.waitLeader(ctx); err != nil {
		return Image{}, err
	}
	timeout := DefaultProposeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return Image{}, fmt.Errorf("metadata: propose %T: %w", rec, ErrTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	f := n.raft.Apply(data, timeout)
	done := make(chan struct{})
	go func() {
		_ = f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return Image{}, fmt.Errorf("metadata: propose %T: %w (%w)", rec, ErrTimeout, ctx.Err())
	}
	if err := f.Error(); err != nil {
		return Image{}, fmt.Errorf("metadata: propose %T: %w", rec, mapRaftError(err))
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return Image{}, fmt.Errorf("metadata: propose %T: unexpected state machine response %T", rec, f.Response())
	}
	return res.img, res.err
}

func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return ErrNotController
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return ErrTimeout
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return err
}

// publish is called by the FSM for every new image. It must not block: it
// stores the image and pokes each subscriber's 1-slot channel, dropping the
// poke if one is already pending (notifications coalesce).
func (n *Node) publish(img Image) {
	n.image.Store(img.data())
	n.subMu.Lock()
	defer n.subMu.Unlock()
	for _, ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel that receives a value whenever a newer image
// is available (read it with Image). Several changes may be coalesced into
// one notification, and the FSM never waits for a slow subscriber. cancel
// stops the notifications (it does not close the channel); Close closes the
// channels of subscribers that have not cancelled.
func (n *Node) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.subMu.Lock()
	defer n.subMu.Unlock()
	if n.subClosed {
		close(ch)
		return ch, func() {}
	}
	id := n.nextSub
	n.nextSub++
	n.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.subMu.Lock()
			delete(n.subs, id)
			n.subMu.Unlock()
		})
	}
}

// Snapshot asks Raft to snapshot the state now and waits for it. Having
// nothing new to snapshot is not an error.
func (n *Node) Snapshot() error {
	err := n.raft.Snapshot().Error()
	if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("metadata: snapshot: %w", mapRaftError(err))
	}
	return nil
}

// Close stops the node: it ends the run goroutine, shuts Raft down (which
// closes the controller listener and waits for Raft's goroutines), closes
// the subscriber channels and the log store. It is safe to call more than
// once; later calls return the first result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.stop)
		err := n.raft.Shutdown().Error()
		n.wg.Wait()
		n.subMu.Lock()
		for id, ch := range n.subs {
			close(ch)
			delete(n.subs, id)
		}
		n.subClosed = true
		n.subMu.Unlock()
		if cerr := n.store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("metadata: close log: %w", cerr))
		}
		n.closeErr = err
	})
	return n.closeErr
}
