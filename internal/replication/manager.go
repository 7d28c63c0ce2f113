package replication

import (
	"cmp"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"
)

// Defaults applied by NewManager to zero (or negative) Config fields.
const (
	DefaultMaxWait           = 500 * time.Millisecond // replica.fetch.wait.max.ms
	DefaultMaxBytes          = 10 << 20               // replica.fetch.response.max.bytes
	DefaultMaxPartitionBytes = 1 << 20                // replica.fetch.max.bytes
	DefaultBackoff           = 100 * time.Millisecond // after an error
)

// Replica is what the fetcher needs of a local follower replica
// (*partition.Partition has these methods). The fetcher calls them from its
// own goroutine, one call at a time per replica, and never after Unfollow
// (or a Follow that replaces the replica) has returned. Implementations
// must not call into the Manager (the fetcher holds its lock during calls).
type Replica interface {
	// String names the replica in logs.
	String() string
	// LogStartOffset is the first offset the replica holds.
	LogStartOffset() int64
	// LogEndOffset is the offset the next appended record gets.
	LogEndOffset() int64
	// LatestEpoch is the newest leader epoch in the replica's epoch cache.
	LatestEpoch() (int32, bool)
	// EndOffsetForEpoch returns, for the largest known epoch <= epoch,
	// that epoch and its end offset (the start of the next known epoch, or
	// the log end offset); (-1, -1) when there is none.
	EndOffsetForEpoch(epoch int32) (int32, int64)
	// AppendAsFollower appends whole batches that start at the log end
	// offset and returns the new log end offset.
	AppendAsFollower(batches []byte) (int64, error)
	// UpdateFollowerHighWatermark learns the leader's high watermark.
	UpdateFollowerHighWatermark(leaderHW int64)
	// TruncateTo drops every record at and above offset (offset >= log
	// start offset).
	TruncateTo(offset int64) error
	// TruncateFullyAndStartAt empties the replica and restarts it at offset.
	TruncateFullyAndStartAt(offset int64) error
}

// Key names a followed partition. TopicID is used with Fetch v13+, Topic
// below v13 and in ListOffsets.
type Key struct {
	TopicID   [16]byte
	Topic     string
	Partition int32
}

// Config configures a Manager.
type Config struct {
	// NodeID is this broker's id, sent as the fetch's replica id.
	NodeID int32
	// SourceAddr is the local IP outbound connections are bound to
	// (inter.node.source.address); "" lets the kernel choose. "IP:port"
	// is accepted too (the port is ignored).
	SourceAddr string
	// BrokerAddr returns a broker's Kafka listener address from metadata.
	// It is called from fetcher goroutines, must be safe for concurrent use
	// and must not call into the Manager.
	BrokerAddr func(id int32) (string, bool)
	// MaxWait is the long-poll wait of a fetch (replica.fetch.wait.max.ms).
	MaxWait time.Duration
	// MaxBytes caps a whole fetch response (replica.fetch.response.max.bytes).
	MaxBytes int32
	// MaxPartitionBytes caps one partition's records in a fetch response
	// (replica.fetch.max.bytes); the leader still sends one whole batch if
	// the first is larger (KIP-74).
	MaxPartitionBytes int32
	// Backoff is how long a partition (or, after a transport error, a
	// whole fetcher) waits after an error before fetching again.
	Backoff time.Duration
	// Logger receives fetcher events; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for back-off deadlines and status; time.Now when nil.
	Now func() time.Time
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxPartitionBytes <= 0 {
		cfg.MaxPartitionBytes = DefaultMaxPartitionBytes
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BrokerAddr == nil {
		cfg.BrokerAddr = func(int32) (string, bool) { return "", false }
	}
	return cfg
}

// PartitionStatus is what the fetcher last saw of one followed partition.
type PartitionStatus struct {
	Key         Key
	Leader      int32
	LeaderEpoch int32
	// LogEndOffset is the local replica's log end offset after the last
	// fetch the fetcher handled (before the first: when it was followed).
	LogEndOffset int64
	// HighWatermark is the leader's high watermark from the last successful
	// fetch response; -1 before the first.
	HighWatermark int64
	// Lag is HighWatermark - LogEndOffset (at least 0), or -1 while
	// HighWatermark is unknown.
	Lag int64
	// LastFetch is when the last successful fetch response for this
	// partition was handled; zero before the first.
	LastFetch time.Time
	// Err is the last error for this partition (a Kafka error code from the
	// leader, a transport error, a failed append or truncation); nil once a
	// fetch succeeds again.
	Err error
}

// Manager runs the replica fetchers of one broker: one per leader broker.
// Its methods are safe for concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup // fetcher goroutines; grown only by goFetcher

	mu sync.Mutex
	// Guarded by mu.
	closed   bool
	fetchers map[int32]*fetcher // by leader broker id
	follows  map[Key]follow
}

// follow is what Follow was last told about a partition.
type follow struct {
	leader, leaderEpoch int32
	replica             Replica
	f                   *fetcher
}

// NewManager returns a Manager with no partitions; fetchers start as
// partitions are followed.
func NewManager(cfg Config) *Manager {
	cfg = cfg.withDefaults()
	return &Manager{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "replication"),
		fetchers: make(map[int32]*fetcher),
		follows:  make(map[Key]follow),
	}
}

// Follow makes r, the local replica of k, follow leader at leaderEpoch. A
// partition not yet followed joins the leader's fetcher (started if
// needed); a changed leader, epoch or replica restarts it (moving it between
// fetchers if the leader changed), so its first fetch checks the log for a
// divergence again; the same leader, epoch and replica again is a no-op. A
// leader < 0 (none) or this node itself stops following k, as Unfollow. After
// Close, Follow does nothing.
func (m *Manager) Follow(k Key, leader, leaderEpoch int32, r Replica) {
	if leader < 0 || leader == m.cfg.NodeID || r == nil {
		if leader == m.cfg.NodeID {
			m.log.Warn("asked to follow this node itself; not following", "topic", k.Topic, "partition", k.Partition)
		}
		m.Unfollow(k)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if cur, ok := m.follows[k]; ok {
		if cur.leader == leader && cur.leaderEpoch == leaderEpoch && sameReplica(cur.replica, r) {
			return
		}
		if cur.leader != leader {
			m.removeLocked(k, cur)
		}
	}
	f := m.fetchers[leader]
	if f == nil {
		f = newFetcher(m, leader)
		m.fetchers[leader] = f
		m.goFetcher(f)
	}
	f.put(newPartState(k, leader, leaderEpoch, r))
	m.follows[k] = follow{leader: leader, leaderEpoch: leaderEpoch, replica: r, f: f}
	m.log.Info("following", "topic", k.Topic, "partition", k.Partition, "leader", leader,
		"leader_epoch", leaderEpoch, "replica", r.String())
}

// Unfollow stops fetching k. When it returns, no fetcher calls k's replica
// any more. Unknown partitions are ignored.
func (m *Manager) Unfollow(k Key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.follows[k]; ok {
		m.removeLocked(k, cur)
		m.log.Info("unfollowed", "topic", k.Topic, "partition", k.Partition, "leader", cur.leader)
	}
}

// removeLocked takes k out of its fetcher and stops the fetcher when it
// follows nothing else. Caller holds m.mu.
func (m *Manager) removeLocked(k Key, cur follow) {
	delete(m.follows, k)
	if remaining := cur.f.remove(k); remaining == 0 {
		if m.fetchers[cur.leader] == cur.f {
			delete(m.fetchers, cur.leader)
		}
		cur.f.stop()
	}
}

// Close stops every fetcher and waits for their goroutines. It is safe to
// call more than once; Follow and Unfollow do nothing afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		for _, f := range m.fetchers {
			f.stop()
		}
		m.fetchers = map[int32]*fetcher{}
		m.follows = map[Key]follow{}
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// Status returns the state of every followed partition, sorted by topic and
// partition.
func (m *Manager) Status() []PartitionStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PartitionStatus
	for _, f := range m.fetchers {
		out = f.appendStatus(out)
	}
	slices.SortFunc(out, func(a, b PartitionStatus) int {
		return cmp.Or(cmp.Compare(a.Key.Topic, b.Key.Topic), cmp.Compare(a.Key.Partition, b.Key.Partition))
	})
	return out
}

// goFetcher runs f on a new goroutine counted in m.wg. It is the only place
// the Manager's WaitGroup grows. Caller holds m.mu (so Close cannot be
// waiting yet).
func (m *Manager) goFetcher(f *fetcher) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f.run()
	}()
}

// sameReplica reports whether a and b are the same replica, without
// panicking on non-comparable implementations (those are never "the same").
func sameReplica(a, b Replica) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || !ta.Comparable() {
		return false
	}
	return a == b
}
