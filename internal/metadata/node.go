package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// DirName is the folder, inside NodeConfig.Dir, that holds the metadata
// log (raft.db) and its snapshots (snapshots/). It has no "-N" suffix, so a
// scan for "<topic>-<partition>" folders never mistakes it for a partition.
const DirName = "__cluster_metadata"

// DefaultBindAddr is the controller (Raft) listener's default address.
const DefaultBindAddr = "127.0.0.1:9093"

// DefaultProposeTimeout bounds a proposal whose context has no deadline.
const DefaultProposeTimeout = 30 * time.Second

// Voter is a member of the metadata quorum.
type Voter struct {
	ID   int32
	Addr string // host:port of its controller listener
}

// NodeConfig configures a Node. Zero values pick the defaults.
type NodeConfig struct {
	// NodeID is this node's id (also its Raft server id, in decimal).
	NodeID int32
	// Dir is the node's data directory; the metadata lives in Dir/DirName.
	Dir string
	// BindAddr is the controller listener (default DefaultBindAddr; port 0
	// picks a free port).
	BindAddr string
	// AdvertiseAddr is the address peers dial (default: the bound one).
	AdvertiseAddr string
	// Voters is the initial quorum, used only on the very first start.
	// Empty means this node alone. A node not listed does not bootstrap
	// and waits to be added by the leader (AddNonvoter); once added, it
	// finds itself in its stored configuration on every later start.
	Voters []Voter
	// SourceAddr, when set, is the local IP that outbound Raft connections
	// are bound to (the property inter.node.source.address); "" lets the
	// kernel choose.
	SourceAddr string
	// ClusterID is written by the first leader of a new cluster (default:
	// a random UUID). On later starts it must match the stored one, or
	// WaitReady fails.
	ClusterID string
	// Logger receives the node's logs (default slog.Default()).
	Logger *slog.Logger
	// HeartbeatTimeout and ElectionTimeout are Raft's (default: 50 ms when
	// this node is the only voter, so that it leads within ~100 ms; 500 ms
	// otherwise, for a fast failover). LeaderLeaseTimeout is Raft's too
	// (default: the heartbeat timeout for a single voter, 250 ms
	// otherwise; never more than the heartbeat timeout).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is the number of new entries after which Raft
	// snapshots the state (default 8192); TrailingLogs are kept after a
	// snapshot (default 10240).
	SnapshotThreshold, TrailingLogs uint64
	// SnapshotInterval is how often Raft checks SnapshotThreshold
	// (default 2 min).
	SnapshotInterval time.Duration
}

// Node is this process's member of the metadata quorum: a hashicorp/raft
// instance whose state machine is a State. See the package documentation
// for the goroutines it runs.
type Node struct {
	cfg   NodeConfig
	log   *slog.Logger
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	addr  string
	mux   *muxListener // the controller listener (closed by raft.Shutdown)

	image atomic.Pointer[imageData]

	subMu     sync.Mutex // guards subs, nextSub, subClosed
	subs      map[uint64]chan struct{}
	nextSub   uint64
	subClosed bool

	gateMu sync.Mutex // guards gate
	gate   *leaderGate

	ready     chan struct{} // closed once WaitReady may return
	readyOnce sync.Once
	readyErr  error // set before ready is closed

	stop      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// leaderGate tracks one spell of leadership: ready is closed once every
// entry of earlier terms is applied (barrier) and the node may decide;
// lost is closed when the spell ends.
type leaderGate struct {
	ready, lost chan struct{}
}

func newGate() *leaderGate {
	return &leaderGate{ready: make(chan struct{}), lost: make(chan struct{})}
}

// Open starts the node: it opens (or creates) the log and snapshots under
// cfg.Dir, restores the latest snapshot, bootstraps a brand-new quorum, and
// starts Raft. It returns without waiting for a leader; call WaitReady.
func Open(cfg NodeConfig) (*Node, error) {
	if cfg.NodeID < 0 {
		return nil, fmt.Errorf("metadata: open: node id %d is negative", cfg.NodeID)
	}
	if cfg.Dir == "" {
		return nil, errors.New("metadata: open: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = DefaultBindAddr
	}
	dir := filepath.Join(cfg.Dir, DirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metadata: open: %w", err)
	}
	n := &Node{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "metadata", "node", cfg.NodeID),
		subs:  map[uint64]chan struct{}{},
		gate:  newGate(),
		ready: make(chan struct{}),
		stop:  make(chan struct{}),
	}
	close(n.gate.lost) // not leader yet
	n.image.Store(emptyData)
	if err := n.start(dir); err != nil {
		return nil, err
	}
	n.wg.Add(1)
	go n.run()
	return n, nil
}

func (n *Node) start(dir string) (err error) {
	hl := newHclog(n.log)
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(dir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second},
	})
	if err != nil {
		return fmt.Errorf("metadata: open log %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("metadata: open log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hl)
	if err != nil {
		return fmt.Errorf("metadata: open snapshots %s: %w", dir, err)
	}
	var advertise net.Addr
	if n.cfg.AdvertiseAddr != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", n.cfg.AdvertiseAddr); err != nil {
			return fmt.Errorf("metadata: advertise address %q: %w", n.cfg.AdvertiseAddr, err)
		}
	}
	mux, err := newMuxListener(muxConfig{
		bindAddr: n.cfg.BindAddr, advertise: advertise, sourceIP: n.cfg.SourceAddr, log: n.log,
	})
	if err != nil {
		return err
	}
	trans := &patientTransport{
		NetworkTransport: raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: mux, MaxPool: 3, Timeout: 10 * time.Second, Logger: hl,
		}),
		done: n.stop, maxHold: patientMaxHold,
	}
	defer func() {
		if err != nil {
			_ = trans.Close()
		}
	}()
	n.mux = mux
	n.addr = string(trans.LocalAddr())

	voters := n.cfg.Voters
	if len(voters) == 0 {
		voters = []Voter{{ID: n.cfg.NodeID, Addr: n.addr}}
	}
	soleVoter := len(voters) == 1 && voters[0].ID == n.cfg.NodeID
	rc := n.raftConfig(soleVoter, hl)
	existing, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("metadata: inspect %s: %w", dir, err)
	}
	if !existing && containsVoter(voters, n.cfg.NodeID) {
		conf := raft.Configuration{}
		for _, v := range voters {
			conf.Servers = append(conf.Servers, raft.Server{
				Suffrage: raft.Voter, ID: serverID(v.ID), Address: raft.ServerAddress(v.Addr),
			})
		}
		if err := raft.BootstrapCluster(rc, logs, store, snaps, trans, conf); err != nil {
			return fmt.Errorf("metadata: bootstrap quorum: %w", err)
		}
		n.log.Info("metadata: bootstrapped a new quorum", "voters", len(voters))
	}
	f := &fsm{state: NewState(), publish: n.publish, log: n.log}
	r, err := raft.NewRaft(rc, f, logs, store, snaps, trans)
	if err != nil {
		return fmt.Errorf("metadata: start raft: %w", err)
	}
	n.raft, n.store = r, store
	return nil
}

func (n *Node) raftConfig(soleVoter bool, hl hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = serverID(n.cfg.NodeID)
	rc.Logger = hl
	hb := n.cfg.HeartbeatTimeout
	if hb == 0 {
		hb = 500 * time.Millisecond
		if soleVoter {
			hb = 50 * time.Millisecond
		}
	}
	et := n.cfg.ElectionTimeout
	if et < hb {
		et = hb
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout = hb, et
	lease := n.cfg.LeaderLeaseTimeout
	if lease == 0 {
		lease = 250 * time.Millisecond
		if soleVoter {
			lease = hb
		}
	}
	rc.LeaderLeaseTimeout = min(lease, hb)
	if n.cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	if n.cfg.TrailingLogs > 0 {
		rc.TrailingLogs = n.cfg.TrailingLogs
	}
	if n.cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = n.cfg.SnapshotInterval
	}
	return rc
}

func serverID(id int32) raft.ServerID { return raft.ServerID(strconv.FormatInt(int64(id), 10)) }

func containsVoter(vs []Voter, id int32) bool {
	for _, v := range vs {
		if v.ID == id {
			return true
		}
	}
	return false
}

// Addr returns the address of the controller listener (useful with port 0).
func (n *Node) Addr() string { return n.addr }

// ControllerAPIListener returns the listener of the controller-API
// connections: those to the controller listener that began with
// ControllerAPIPreface (consumed). It is listening when Open returns, so
// peers may dial at once; connections wait (up to 64) until accepted.
// Close of the node closes it; Accept then returns net.ErrClosed.
func (n *Node) ControllerAPIListener() net.Listener { return n.mux.api }

// Image returns the latest applied image. It never blocks.
func (n *Node) Image() Image { return Image{d: n.image.Load()} }

// IsController reports whether this node is the quorum leader.
func (n *Node) IsController() bool { return n.raft.State() == raft.Leader }

// Leader returns the node id of the quorum leader, if one is known.
func (n *Node) Leader() (int32, bool) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(string(id), 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}
