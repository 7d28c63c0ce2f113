package controller

import (
	"context"
	"time"
)

// tickTimeout bounds the proposals of one tick.
const tickTimeout = 5 * time.Second

// Run performs the controller's periodic duties every Config.TickInterval
// until ctx ends; it is the controller's only goroutine, started and owned
// by the caller (run it on every node: it does nothing while this node is
// not the quorum leader). See tick.
func (c *Controller) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.tick(ctx)
		}
	}
}

// tick runs the periodic duties once, while this node is the controller
// (Config.Now is the clock):
//
//  1. unfenced brokers whose lease expired are fenced, one Raft entry each
//     (leaders are never moved to another broker expiring in the same
//     tick);
//  2. repair: leaders that are not live are replaced, dead ISR members of
//     led partitions are dropped, leaderless partitions are elected and
//     reassignments whose added replicas are in sync complete (normally
//     all of that already happened with the decision that caused it; this
//     catches interrupted or raced decisions);
//  3. every LeaderImbalanceCheckInterval, with AutoLeaderRebalance,
//     preferred leaders are elected.
//
// A failed proposal is logged and the tick ends; the next one retries.
func (c *Controller) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, tickTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		return
	}
	now := c.cfg.Now()
	expired := c.expiredBrokers(img, now)
	dead := make(map[int32]bool, len(expired))
	for _, id := range expired {
		dead[id] = true
	}
	for _, id := range expired {
		if img, err = c.fenceBroker(ctx, img, id, dead, "heartbeat lease expired"); err != nil {
			return
		}
	}

	pl := newPlan(img, c.uncleanFunc(img))
	pl.repair(liveOf(img))
	if changes := pl.records(); len(changes) > 0 {
		if img, err = c.proposeChanges(ctx, img, nil, changes, nil); err != nil {
			c.lg.Warn("partition repair failed", "partitions", len(changes), "err", err)
			return
		}
		c.lg.Info("partitions repaired", "partitions", len(changes))
	}

	if c.cfg.AutoLeaderRebalance && c.rebalanceDue(now) {
		if _, err := c.electPreferredLeaders(ctx, img); err != nil {
			c.lg.Warn("preferred leader election failed", "err", err)
		}
	}
}

// rebalanceDue reports whether the periodic preferred-leader election is
// due at now, and if so starts the next period.
func (c *Controller) rebalanceDue(now time.Time) bool {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if now.Sub(c.lastRebalance) < c.cfg.LeaderImbalanceCheckInterval {
		return false
	}
	c.lastRebalance = now
	return true
}
