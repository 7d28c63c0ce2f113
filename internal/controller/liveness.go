package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// lease is a broker's heartbeat lease on this controller (Kafka's
// BrokerHeartbeatManager). It is never replicated: a controller that
// becomes active gives every registered broker a fresh one.
type lease struct {
	epoch   int64     // the broker epoch the heartbeats came with
	expires time.Time // last heartbeat + session timeout
	// shutdown: the broker asked for a controlled shutdown with this
	// epoch; it is fenced and stays fenced until it registers again.
	shutdown bool
	// shutdownOffset is the metadata offset of the entry that fenced it
	// for the shutdown: it may stop once it has applied that entry.
	shutdownOffset int64
	// fencedAt is the metadata offset of the entry that fenced the
	// broker (lease expiry, or, for a controller that just became
	// active, its whole log so far): it is unfenced only once its
	// heartbeats show it applied that entry, so that a broker cut off
	// for a while never serves with a stale view of who leads what.
	fencedAt int64
}

// leaderImage is c.log.LeaderImage that also tracks whether this
// controller is active: the first success after a failure (or ever)
// gives every broker a fresh lease; NOT_CONTROLLER drops the table.
func (c *Controller) leaderImage(ctx context.Context) (metadata.Image, error) {
	img, err := c.log.LeaderImage(ctx)
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	switch {
	case err == nil:
		if !c.active {
			now := c.cfg.Now()
			c.active, c.lastRebalance = true, now
			clear(c.leases)
			for _, b := range img.Brokers() {
				l := &lease{epoch: b.Epoch, expires: now.Add(c.cfg.SessionTimeout)}
				if b.Fenced {
					l.fencedAt = int64(img.Index())
				}
				c.leases[b.NodeID] = l
			}
			c.lg.Info("controller active: every broker got a fresh lease", "brokers", len(c.leases))
		}
	case errors.Is(err, metadata.ErrNotController), errors.Is(err, metadata.ErrClosed):
		if c.active {
			c.active = false
			clear(c.leases)
			c.lg.Info("controller inactive")
		}
	}
	return img, err
}

// renewLease records a sign of life of broker id with the given epoch. A
// lease of a newer epoch is never replaced by an older one.
func (c *Controller) renewLease(id int32, epoch int64) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	l := c.leases[id]
	if l != nil && l.epoch > epoch {
		return
	}
	if l == nil || l.epoch != epoch {
		l = &lease{epoch: epoch}
		c.leases[id] = l
	}
	l.expires = c.cfg.Now().Add(c.cfg.SessionTimeout)
}

// markShutdown records that broker id asked for a controlled shutdown.
func (c *Controller) markShutdown(id int32, epoch int64) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if l := c.leases[id]; l != nil && l.epoch == epoch {
		l.shutdown = true
	}
}

// shuttingDown reports whether broker id (at epoch) is in controlled
// shutdown.
func (c *Controller) shuttingDown(id int32, epoch int64) bool {
	_, ok := c.shutdownOffset(id, epoch)
	return ok
}

// shutdownOffset returns the offset broker id (at epoch) must have
// applied before it may stop, and whether it is in controlled shutdown.
func (c *Controller) shutdownOffset(id int32, epoch int64) (int64, bool) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	l := c.leases[id]
	if l == nil || l.epoch != epoch || !l.shutdown {
		return 0, false
	}
	return l.shutdownOffset, true
}

// setFencedAt records the entry that fenced broker id (at epoch).
func (c *Controller) setFencedAt(id int32, epoch, offset int64) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if l := c.leases[id]; l != nil && l.epoch == epoch {
		l.fencedAt = offset
	}
}

// fencedAt returns the offset broker id (at epoch) must have applied
// before it may be unfenced (0 if none is known).
func (c *Controller) fencedAt(id int32, epoch int64) int64 {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if l := c.leases[id]; l != nil && l.epoch == epoch {
		return l.fencedAt
	}
	return 0
}

// setShutdownOffset records the entry that fenced broker id for its
// controlled shutdown.
func (c *Controller) setShutdownOffset(id int32, epoch, offset int64) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if l := c.leases[id]; l != nil && l.epoch == epoch {
		l.shutdownOffset = offset
	}
}

// expiredBrokers returns the unfenced brokers of img whose lease expired
// at now, sorted. Brokers without a lease for their current epoch get a
// fresh one; leases of unregistered brokers are dropped.
func (c *Controller) expiredBrokers(img metadata.Image, now time.Time) []int32 {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	var out []int32
	for id := range c.leases {
		if _, ok := img.Broker(id); !ok {
			delete(c.leases, id)
		}
	}
	for _, b := range img.Brokers() {
		l := c.leases[b.NodeID]
		if l == nil || l.epoch != b.Epoch {
			c.leases[b.NodeID] = &lease{epoch: b.Epoch, expires: now.Add(c.cfg.SessionTimeout)}
			continue
		}
		if !b.Fenced && now.After(l.expires) {
			out = append(out, b.NodeID)
		}
	}
	return out
}

// checkBrokerEpoch returns broker id of img if epoch is its current one.
func checkBrokerEpoch(img metadata.Image, id int32, epoch int64) (metadata.Broker, *Error) {
	b, ok := img.Broker(id)
	if !ok {
		return b, &Error{Code: kerr.BrokerIDNotRegistered, Message: fmt.Sprintf("broker %d is not registered", id)}
	}
	if epoch != b.Epoch {
		return b, &Error{Code: kerr.StaleBrokerEpoch, Message: fmt.Sprintf("broker %d epoch %d is not the current %d", id, epoch, b.Epoch)}
	}
	return b, nil
}

// codeOf returns the Kafka error code of an error from this package or
// the metadata layer.
func codeOf(err error) int16 {
	var e *Error
	if errors.As(err, &e) {
		return e.Code.Code
	}
	code, _ := kafkaError(err)
	return code.Code
}

// BrokerHeartbeat renews a broker's lease and moves it between fenced and
// unfenced (Kafka's BrokerHeartbeat, API 63):
//   - unknown broker: BROKER_ID_NOT_REGISTERED; another epoch:
//     STALE_BROKER_EPOCH (the broker must register again);
//   - WantShutdown starts a controlled shutdown: in one Raft entry the
//     broker leaves every ISR, its leaderships move to other ISR members,
//     and it is fenced; it is never unfenced again with this epoch, and
//     ShouldShutdown is true once its CurrentMetadataOffset shows it
//     applied that entry (so it stops only after learning it leads
//     nothing: usually the next heartbeat);
//   - WantFence fences an unfenced broker the same way;
//   - a fenced broker whose CurrentMetadataOffset reached its registration
//     is unfenced, and leaderless partitions it can lead are elected in the
//     same entry.
//
// IsCaughtUp and IsFenced describe the broker after the heartbeat.
// NOT_CONTROLLER and REQUEST_TIMED_OUT mean the heartbeat should be
// retried (on the new controller).
func (c *Controller) BrokerHeartbeat(ctx context.Context, req *kmsg.BrokerHeartbeatRequest) *kmsg.BrokerHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	resp.IsFenced = true
	img, err := c.leaderImage(ctx)
	if err != nil {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	if _, e := checkBrokerEpoch(img, req.BrokerID, req.BrokerEpoch); e != nil {
		resp.ErrorCode = e.Code.Code
		return resp
	}
	// Renew before waiting for mu, so that a heartbeat queued behind a
	// slow proposal still counts when Run checks the leases.
	c.renewLease(req.BrokerID, req.BrokerEpoch)
	if req.WantShutdown {
		c.markShutdown(req.BrokerID, req.BrokerEpoch)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if img, err = c.leaderImage(ctx); err != nil {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	b, e := checkBrokerEpoch(img, req.BrokerID, req.BrokerEpoch)
	if e != nil {
		resp.ErrorCode = e.Code.Code
		return resp
	}
	caughtUp := req.CurrentMetadataOffset >= max(b.Epoch, c.fencedAt(b.NodeID, b.Epoch))
	shutdown := c.shuttingDown(b.NodeID, b.Epoch)
	switch {
	case shutdown && !b.Fenced:
		if img, err = c.fenceBroker(ctx, img, b.NodeID, nil, "controlled shutdown"); err == nil {
			c.setShutdownOffset(b.NodeID, b.Epoch, int64(img.Index()))
		}
	case req.WantFence && !b.Fenced:
		img, err = c.fenceBroker(ctx, img, b.NodeID, nil, "the broker asked to be fenced")
	case b.Fenced && caughtUp && !shutdown && !req.WantFence:
		img, err = c.unfenceBroker(ctx, img, b.NodeID)
	}
	resp.IsCaughtUp = caughtUp
	if err != nil {
		resp.ErrorCode = codeOf(err)
		resp.IsFenced = b.Fenced
		return resp
	}
	if b, ok := img.Broker(req.BrokerID); ok {
		resp.IsFenced = b.Fenced
	}
	if offset, ok := c.shutdownOffset(b.NodeID, b.Epoch); ok {
		resp.ShouldShutdown = resp.IsFenced && req.CurrentMetadataOffset >= offset && !leadsAny(img, b.NodeID)
	}
	return resp
}

// leadsAny reports whether broker id leads a partition in img.
func leadsAny(img metadata.Image, id int32) bool {
	for _, t := range img.Topics() {
		for _, p := range t.Partitions {
			if p.Leader == id {
				return true
			}
		}
	}
	return false
}

// fenceBroker proposes, against img, fencing broker x: the partition
// changes that take it out of every ISR and leadership, then FenceBroker.
// Brokers in dead are being fenced by the same decision and are not
// elected. It returns the image after the change.
func (c *Controller) fenceBroker(ctx context.Context, img metadata.Image, x int32, dead map[int32]bool, reason string) (metadata.Image, error) {
	b, ok := img.Broker(x)
	if !ok || b.Fenced {
		return img, nil
	}
	pl := newPlan(img, c.uncleanFunc(img))
	pl.removeBroker(x, c.liveExcept(img, x, dead))
	changes := pl.records()
	next, err := c.proposeChanges(ctx, img, nil, changes, []metadata.Record{metadata.FenceBroker{NodeID: x, Epoch: b.Epoch}})
	if err != nil {
		c.lg.Warn("fencing a broker failed", "node", x, "epoch", b.Epoch, "reason", reason, "err", err)
		return img, err
	}
	c.setFencedAt(x, b.Epoch, int64(next.Index()))
	c.lg.Info("broker fenced", "node", x, "epoch", b.Epoch, "reason", reason, "partitions_changed", len(changes))
	return next, nil
}

// unfenceBroker proposes, against img, UnfenceBroker for x followed by the
// elections of leaderless partitions that x (or anyone else live) can
// now lead.
func (c *Controller) unfenceBroker(ctx context.Context, img metadata.Image, x int32) (metadata.Image, error) {
	b, ok := img.Broker(x)
	if !ok || !b.Fenced {
		return img, nil
	}
	pl := newPlan(img, c.uncleanFunc(img))
	pl.electLeaderless(liveWith(img, x))
	changes := pl.records()
	next, err := c.proposeChanges(ctx, img, []metadata.Record{metadata.UnfenceBroker{NodeID: x, Epoch: b.Epoch}}, changes, nil)
	if err != nil {
		c.lg.Warn("unfencing a broker failed", "node", x, "epoch", b.Epoch, "err", err)
		return img, err
	}
	c.lg.Info("broker unfenced", "node", x, "epoch", b.Epoch, "leaders_elected", len(changes))
	return next, nil
}

// BrokerRegistration registers a broker (Kafka's BrokerRegistration, API
// 62) through RegisterBroker: the listener named PLAINTEXT (or the first
// one) is the address clients are given. Errors: INVALID_REQUEST (no
// listener, bad address), INCONSISTENT_CLUSTER_ID, NOT_CONTROLLER,
// REQUEST_TIMED_OUT. Features, log dirs and PreviousBrokerEpoch are not
// used; a new incarnation always replaces the old registration (Kafka
// refuses it while the old one's session is alive: not done here).
func (c *Controller) BrokerRegistration(ctx context.Context, req *kmsg.BrokerRegistrationRequest) *kmsg.BrokerRegistrationResponse {
	resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	resp.BrokerEpoch = -1
	if len(req.Listeners) == 0 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	i := slices.IndexFunc(req.Listeners, func(l kmsg.BrokerRegistrationRequestListener) bool { return l.Name == "PLAINTEXT" })
	l := req.Listeners[max(i, 0)]
	reg := BrokerRegistration{NodeID: req.BrokerID, Host: l.Host, Port: int32(l.Port), IncarnationID: req.IncarnationID}
	if req.Rack != nil {
		reg.Rack = *req.Rack
	}
	epoch, err := c.register(ctx, reg, req.ClusterID)
	if err != nil {
		resp.ErrorCode = codeOf(err)
		c.lg.Debug("broker registration refused", "node", req.BrokerID, "err", err)
		return resp
	}
	resp.BrokerEpoch = epoch
	return resp
}
