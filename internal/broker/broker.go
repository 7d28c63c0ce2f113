// Package broker serves the Kafka API of one samsa node: one file per API key
// (NN_name.go, each registering the versions it serves), glued to the
// partition replicas this node hosts and to the metadata quorum.
//
// Goroutines owned by a Broker (started by Start, stopped by Close, counted
// in wg):
//   - the reconciler: follows metadata images, opens and deletes local
//     partition replicas and republishes the cluster view;
//   - the housekeeper: runs retention and time-based flushes every
//     log.retention.check.interval.ms.
//
// Handlers run on the wire package's connection goroutines. A handler that
// must wait (acks=all produce, long-poll fetch) returns a response whose
// Ready channel a goroutine of its own closes; those goroutines end by
// themselves (timeout) or when closing is closed.
package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/ctlclient"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replication"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// Options are what a Broker is built from.
type Options struct {
	Config     *config.Broker
	FS         vfs.FS // nil: the OS filesystem
	Logger     *slog.Logger
	Meta       *metadata.Node
	Controller *controller.Controller
	// Voters is the metadata quorum (controller.quorum.voters), used to
	// reach a controller before this node knows the leader.
	Voters []metadata.Voter
	// AdvertisedHost and AdvertisedPort are how clients reach this broker;
	// ControllerAddr how other nodes reach its controller listener.
	AdvertisedHost string
	AdvertisedPort int32
	ControllerAddr string
}

// Broker serves Kafka requests for one node.
type Broker struct {
	nodeID int32
	// brokerEpoch is the epoch of this broker's current registration.
	brokerEpoch atomic.Int64
	// fenced mirrors the controller's last heartbeat answer.
	fenced         atomic.Bool
	incarnation    [16]byte
	advertisedHost string
	advertisedPort int32
	controllerAddr string
	ctlc           *ctlclient.Client
	replicas       *replication.Manager
	isrPending     isrPending
	cfg            *config.Broker
	lg             *slog.Logger
	fsys           vfs.FS
	meta           *metadata.Node
	ctl            *controller.Controller
	registry       *wire.Registry
	// controllerRegistry lists the controller listener's APIs.
	controllerRegistry *wire.Registry

	// view is the current clusterView, replaced (never modified) by the
	// reconciler and by handlers that wait for their own metadata change.
	view_ atomic.Pointer[clusterView]

	// localMu guards local and serialises reconciliation.
	localMu sync.Mutex
	local   map[metadata.TopicID][]*partition.Partition

	fetchSessions *fetchSessionCache
	producerIDs   producerIDBlock
	metrics       *metrics
	groups        *groupService // the group coordinator (groups.go)

	// allowInternalWrites lets clients produce to internal topics (tests).
	allowInternalWrites bool

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New builds a broker. Call Start to begin following metadata.
func New(opts Options) (*Broker, error) {
	if opts.Config == nil || opts.Meta == nil || opts.Controller == nil {
		return nil, errors.New("broker: Config, Meta and Controller are required")
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = vfs.OS{}
	}
	b := &Broker{
		nodeID:             opts.Config.NodeID,
		advertisedHost:     opts.AdvertisedHost,
		advertisedPort:     opts.AdvertisedPort,
		controllerAddr:     opts.ControllerAddr,
		cfg:                opts.Config,
		lg:                 lg,
		fsys:               fsys,
		meta:               opts.Meta,
		ctl:                opts.Controller,
		registry:           newRegistry(apis),
		controllerRegistry: newRegistry(controllerAPIs),
		local:              map[metadata.TopicID][]*partition.Partition{},
		fetchSessions:      newFetchSessionCache(1000),
		metrics:            newMetrics(),
		closing:            make(chan struct{}),
	}
	b.view_.Store(&clusterView{topics: map[string]*topicView{}, topicsByID: map[[16]byte]*topicView{}})
	_, _ = rand.Read(b.incarnation[:])
	b.fenced.Store(true) // a new registration is fenced
	b.ctlc = ctlclient.New(ctlclient.Config{
		NodeID: b.nodeID, Voters: opts.Voters, SourceAddr: opts.Config.SourceAddress,
		Leader: b.meta.LeaderAddr, Local: b.localController, Logger: lg.With("component", "ctlclient"),
	})
	b.replicas = replication.NewManager(replication.Config{
		NodeID: b.nodeID, SourceAddr: opts.Config.SourceAddress, BrokerAddr: b.brokerAddr,
		MaxWait: opts.Config.ReplicaFetchWaitMax, MaxBytes: 10 * opts.Config.ReplicaFetchMaxBytes,
		MaxPartitionBytes: opts.Config.ReplicaFetchMaxBytes, Logger: lg.With("component", "replication"),
	})
	b.groups = newGroupService(b)
	return b, nil
}

// brokerAddr returns a registered broker's Kafka address (for the replica
// fetchers).
func (b *Broker) brokerAddr(id int32) (string, bool) {
	br, ok := b.meta.Image().Broker(id)
	if !ok {
		return "", false
	}
	return net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), true
}

// Registry returns the API versions this broker serves, for the wire server.
func (b *Broker) Registry() *wire.Registry { return b.registry }

// view returns the current cluster view.
func (b *Broker) view() *clusterView { return b.view_.Load() }

// Start opens the local replicas named by the current metadata and starts
// the reconciler and housekeeper.
func (b *Broker) Start(ctx context.Context) error {
	// Registration comes first: a broker-only node is added to the
	// metadata quorum by it, and only then receives the metadata log.
	if err := b.register(ctx); err != nil {
		return err
	}
	if err := b.meta.WaitReady(ctx); err != nil {
		return fmt.Errorf("broker: metadata: %w", err)
	}
	// Subscribe before the first reconcile, so no image published in
	// between is missed.
	updates, cancel := b.meta.Subscribe()
	if err := b.reconcile(b.meta.Image()); err != nil {
		// Not fatal: a replica that cannot take its role yet (e.g. a
		// stale epoch while the image catches up) is retried at the
		// next image, as in steady state.
		b.lg.Error("applying metadata at start; retrying with the next image", "err", err)
	}
	if err := b.removeStrayPartitionDirs(); err != nil {
		b.lg.Warn("could not clean partition directories", "err", err)
	}
	b.goroutine(func() {
		defer cancel()
		for {
			select {
			case <-b.closing:
				return
			case <-updates:
				if err := b.reconcile(b.meta.Image()); err != nil {
					b.lg.Error("applying metadata", "err", err)
				}
			}
		}
	})
	b.goroutine(b.housekeep)
	b.goroutine(b.heartbeatLoop)
	b.goroutine(b.isrLoop)
	if err := b.waitUnfenced(ctx); err != nil {
		return err
	}
	// Unfencing elected this broker where it is the only live ISR
	// member; serve with that state from the first request.
	return b.waitForImage(ctx, func(img metadata.Image) bool { return img.IsLive(b.nodeID) })
}

// goroutine runs f on a goroutine counted in wg.
func (b *Broker) goroutine(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

// Close stops the broker's goroutines, wakes parked requests and closes every
// local replica cleanly (writing producer snapshots and clean markers).
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { close(b.closing) })
	b.wg.Wait()
	b.replicas.Close()
	defer b.ctlc.Close()
	b.groups.coord.Close()
	b.localMu.Lock()
	defer b.localMu.Unlock()
	var errs []error
	for _, parts := range b.local {
		for _, p := range parts {
			if p == nil {
				continue
			}
			if err := p.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	b.local = map[metadata.TopicID][]*partition.Partition{}
	return errors.Join(errs...)
}

// housekeep applies retention and time-based flushes periodically.
func (b *Broker) housekeep() {
	interval := b.cfg.LogRetentionCheck
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	// High watermarks are checkpointed every few seconds, as Kafka's
	// replica.high.watermark.checkpoint.interval.ms, so that a restarted
	// replica does not start from its log start.
	hw := time.NewTicker(5 * time.Second)
	defer hw.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
			b.runRetention()
		case <-hw.C:
			b.checkpointHighWatermarks()
		}
	}
}

// checkpointHighWatermarks writes every local replica's high watermark.
func (b *Broker) checkpointHighWatermarks() {
	for _, t := range b.view().topics {
		for _, pv := range t.partitions {
			if pv.local == nil {
				continue
			}
			if err := pv.local.CheckpointHighWatermark(); err != nil {
				b.lg.Warn("high watermark checkpoint", "partition", pv.local.String(), "err", err)
			}
		}
	}
}

// runRetention applies retention to every local partition.
func (b *Broker) runRetention() {
	for _, t := range b.view().topics {
		for _, pv := range t.partitions {
			if pv.local == nil {
				continue
			}
			if n, err := pv.local.Log().ApplyRetention(); err != nil {
				b.lg.Error("retention", "partition", pv.local.String(), "err", err)
			} else if n > 0 {
				b.lg.Info("retention deleted segments", "partition", pv.local.String(), "segments", n)
			}
		}
	}
}

func errUnknownKey(key int16) error { return fmt.Errorf("broker: no handler for api key %d", key) }
