package broker

// Fetch sessions (KIP-227). A client that fetches the same partitions again
// and again can open a session: the first (full) request lists every
// partition, later (incremental) ones list only partitions whose fetch
// position changed and the ones to forget, and the broker answers only the
// partitions with news (records, a moved high watermark, log start or last
// stable offset, or an error).
//
//	SessionID  Epoch  meaning
//	0          -1     full fetch, no session
//	0           0     full fetch, open a new session
//	S           N>0   incremental fetch in session S; N must be the next epoch
//	S          -1     close S; this request is a full sessionless fetch
//	S           0     close S and open a new session with this full request
//
// The cache is bounded (max.incremental.fetch.session.cache.slots, 1000 by
// default); when it is full the least recently used session is evicted and a
// client that asks for a new one gets session id 0 (sessionless) if no slot
// can be freed.

import (
	"container/list"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// fetchKey names a partition in a fetch session.
type fetchKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

// sessionPartition is what a session remembers of one partition.
type sessionPartition struct {
	fetchOffset       int64
	partitionMaxBytes int32
	currentEpoch      int32
	lastFetchedEpoch  int32
	// What the client was last told, to decide whether the partition has news.
	sentHighWatermark  int64
	sentLogStartOffset int64
	sentLSO            int64
}

// fetchSession is one client's session; mu serialises its requests.
type fetchSession struct {
	mu       sync.Mutex
	id       int32
	epoch    int32 // the epoch the next request must carry
	order    []fetchKey
	parts    map[fetchKey]*sessionPartition
	lastUsed time.Time
	elem     *list.Element
}

// fetchSessionCache holds the open sessions.
type fetchSessionCache struct {
	mu       sync.Mutex
	max      int
	sessions map[int32]*fetchSession
	lru      *list.List // front = most recently used
}

func newFetchSessionCache(max int) *fetchSessionCache {
	return &fetchSessionCache{max: max, sessions: map[int32]*fetchSession{}, lru: list.New()}
}

// create opens a session, evicting the least recently used one if full.
// It returns nil when no session can be made (max is 0).
func (c *fetchSessionCache) create() *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		return nil
	}
	for len(c.sessions) >= c.max {
		oldest := c.lru.Back()
		s := oldest.Value.(*fetchSession)
		c.lru.Remove(oldest)
		delete(c.sessions, s.id)
	}
	id := rand.Int32()
	for id == 0 || c.sessions[id] != nil {
		id = rand.Int32()
	}
	s := &fetchSession{id: id, epoch: 1, parts: map[fetchKey]*sessionPartition{}, lastUsed: time.Now()}
	s.elem = c.lru.PushFront(s)
	c.sessions[id] = s
	return s
}

// get finds a session for an incremental request and checks its epoch.
func (c *fetchSessionCache) get(id, epoch int32) (*fetchSession, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s == nil {
		return nil, kerr.FetchSessionIDNotFound
	}
	c.lru.MoveToFront(s.elem)
	return s, nil
}

// remove closes a session.
func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sessions[id]; s != nil {
		c.lru.Remove(s.elem)
		delete(c.sessions, id)
	}
}

// len reports the number of open sessions.
func (c *fetchSessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

// upsert records a partition's fetch position from a request.
func (s *fetchSession) upsert(k fetchKey, sp sessionPartition) {
	if old := s.parts[k]; old != nil {
		old.fetchOffset, old.partitionMaxBytes = sp.fetchOffset, sp.partitionMaxBytes
		old.currentEpoch, old.lastFetchedEpoch = sp.currentEpoch, sp.lastFetchedEpoch
		return
	}
	sp.sentHighWatermark, sp.sentLogStartOffset, sp.sentLSO = -1, -1, -1
	s.parts[k] = &sp
	s.order = append(s.order, k)
}

// forget drops a partition from the session.
func (s *fetchSession) forget(k fetchKey) {
	if _, ok := s.parts[k]; !ok {
		return
	}
	delete(s.parts, k)
	for i, x := range s.order {
		if x == k {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}
