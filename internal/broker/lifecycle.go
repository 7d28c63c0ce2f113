package broker

// A broker's life with the controller (Kafka's KRaft broker lifecycle):
//
//  1. register: BrokerRegistration with this process's incarnation id; the
//     answer is the broker epoch. A new registration is fenced.
//  2. heartbeat: every broker.heartbeat.interval.ms a BrokerHeartbeat with
//     the metadata offset this node has applied; the controller unfences
//     the broker once it has caught up, and fences it when heartbeats stop
//     for broker.session.timeout.ms. A STALE_BROKER_EPOCH or
//     BROKER_ID_NOT_REGISTERED answer (the registration was replaced or
//     removed) makes the broker register again.
//  3. controlled shutdown: on Close, heartbeats ask WantShutDown until the
//     controller moved every leadership away (bounded), so clients move to
//     the new leaders before this node stops answering.
//
// The heartbeat goroutine is started by Start and owned by the broker (wg).

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// register registers this broker with the controller, retrying until ctx
// ends, and stores the broker epoch.
func (b *Broker) register(ctx context.Context) error {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 1
	req.BrokerID = b.nodeID
	req.ClusterID = b.meta.Image().ClusterID()
	req.IncarnationID = b.incarnation
	if b.cfg.Rack != "" {
		rack := b.cfg.Rack
		req.Rack = &rack
	}
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port, l.SecurityProtocol = "PLAINTEXT", b.advertisedHost, uint16(b.advertisedPort), 0
	req.Listeners = append(req.Listeners, l)
	c := kmsg.NewBrokerRegistrationRequestListener()
	host, port, err := splitHostPort(b.controllerAddr)
	if err != nil {
		return fmt.Errorf("broker: controller address: %w", err)
	}
	c.Name, c.Host, c.Port = controllerListenerName, host, uint16(port)
	req.Listeners = append(req.Listeners, c)
	backoff := 50 * time.Millisecond
	for {
		resp, err := b.ctlc.RequestUntil(ctx, req, isNotController)
		if err == nil {
			r := resp.(*kmsg.BrokerRegistrationResponse)
			if r.ErrorCode == 0 {
				b.brokerEpoch.Store(r.BrokerEpoch)
				b.lg.Info("registered with the controller", "broker_epoch", r.BrokerEpoch)
				return nil
			}
			err = kerr.ErrorForCode(r.ErrorCode)
			if r.ErrorCode == kerr.InvalidRequest.Code || r.ErrorCode == kerr.InconsistentClusterID.Code {
				return fmt.Errorf("broker: registration refused: %w", err)
			}
		}
		b.lg.Debug("registration failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: register with the controller: %w (last error: %v)", ctx.Err(), err)
		case <-b.closing:
			return fmt.Errorf("broker: closing")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// controllerListenerName names the controller listener in registrations.
const controllerListenerName = "CONTROLLER"

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	return host, port, nil
}

// heartbeat sends one heartbeat and applies its answer. It returns whether
// the broker is fenced.
func (b *Broker) heartbeat(ctx context.Context, wantShutdown bool) (fenced, shutdownOK bool, err error) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID = b.nodeID
	req.BrokerEpoch = b.brokerEpoch.Load()
	req.CurrentMetadataOffset = int64(b.meta.Image().Index())
	req.WantShutdown = wantShutdown
	resp, err := b.ctlc.RequestUntil(ctx, req, isNotController)
	if err != nil {
		return b.fenced.Load(), false, err
	}
	r := resp.(*kmsg.BrokerHeartbeatResponse)
	switch r.ErrorCode {
	case 0:
	case kerr.StaleBrokerEpoch.Code, kerr.BrokerIDNotRegistered.Code:
		b.lg.Warn("the controller no longer knows this registration; registering again", "err", kerr.ErrorForCode(r.ErrorCode))
		return true, false, b.register(ctx)
	default:
		return b.fenced.Load(), false, kerr.ErrorForCode(r.ErrorCode)
	}
	if was := b.fenced.Swap(r.IsFenced); was != r.IsFenced {
		if r.IsFenced {
			b.lg.Warn("the controller fenced this broker")
		} else {
			b.lg.Info("the controller unfenced this broker")
		}
	}
	return r.IsFenced, r.ShouldShutdown, nil
}

// heartbeatLoop heartbeats until the broker closes.
func (b *Broker) heartbeatLoop() {
	interval := b.cfg.HeartbeatInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
		}
		// When both are ready select picks at random, so look at closing
		// again: Close must not wait for more heartbeats to a controller
		// that may be gone (the last node of a cluster shutting down).
		select {
		case <-b.closing:
			return
		default:
		}
		ctx, cancel := b.closingContext(4 * interval)
		if _, _, err := b.heartbeat(ctx, false); err != nil {
			b.lg.Debug("heartbeat failed", "err", err)
		}
		cancel()
	}
}

// closingContext returns a context that ends after d or when the broker
// starts closing, whichever comes first, so that a background request to
// an unreachable controller never delays Close.
func (b *Broker) closingContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() { // ends with ctx: the caller cancels it when done
		select {
		case <-b.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// waitUnfenced heartbeats until the controller unfences this broker.
func (b *Broker) waitUnfenced(ctx context.Context) error {
	for {
		fenced, _, err := b.heartbeat(ctx, false)
		if err == nil && !fenced {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: waiting to be unfenced by the controller: %w (last error: %v)", ctx.Err(), err)
		case <-b.closing:
			return fmt.Errorf("broker: closing")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ControlledShutdown asks the controller to move this broker's leaderships
// away and waits (bounded by ctx) until it did, so clients fail over before
// this node stops. It is a no-op when controlled.shutdown.enable is false.
func (b *Broker) ControlledShutdown(ctx context.Context) error {
	if !b.cfg.ControlledShutdownEnable {
		return nil
	}
	for {
		_, ok, err := b.heartbeat(ctx, true)
		if err == nil && ok {
			b.lg.Info("controlled shutdown: leadership moved away")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker: controlled shutdown: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
