//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// Bounds of a group member's work.
const (
	// memberCommitTimeout bounds one offset commit.
	memberCommitTimeout = 5 * time.Second
	// memberStopTimeout bounds how long Stop waits for the poll loop.
	memberStopTimeout = 30 * time.Second
)

// GroupMember is one consumer-group member reading a topic from its start:
// it hands every record it reads to History.Consumed and, after every
// poll, commits what it read, recording in History.Committed only the
// partitions whose commit succeeded.
type GroupMember struct {
	t      testing.TB
	h      *checker.History
	name   string
	group  string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	stop   sync.Once

	mu       sync.Mutex // guards the fields below
	consumed int
	commits  int
	lastRead time.Time
	lastErr  error
}

// StartGroupMember starts member name of group reading topic (auto commit
// off, reset to the start). It stops when Stop is called or the test ends.
func StartGroupMember(t testing.TB, c *procluster.Cluster, h *checker.History, name, group, topic string) *GroupMember {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Bootstrap()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("group member %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &GroupMember{t: t, h: h, name: name, group: group, cl: cl, cancel: cancel, done: make(chan struct{})}
	go m.run(ctx)
	t.Cleanup(m.Stop)
	return m
}

// run polls, records and commits until ctx ends.
func (m *GroupMember) run(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		fs := m.cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) { m.noteErr(err) })
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			m.h.Consumed(m.name, checker.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
				Key: string(r.Key), Value: string(r.Value)})
			n++
		})
		if n > 0 {
			m.mu.Lock()
			m.consumed += n
			m.lastRead = time.Now()
			m.mu.Unlock()
		}
		m.commit(ctx)
	}
}

// commit commits the offsets read so far and records the partitions whose
// commit succeeded.
func (m *GroupMember) commit(ctx context.Context) {
	offs := m.cl.UncommittedOffsets()
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, memberCommitTimeout)
	defer cancel()
	m.cl.CommitOffsetsSync(cctx, offs, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			m.noteErr(err)
			return
		}
		asked := map[string]map[int32]int64{}
		for _, rt := range req.Topics {
			asked[rt.Topic] = map[int32]int64{}
			for _, rp := range rt.Partitions {
				asked[rt.Topic][rp.Partition] = rp.Offset
			}
		}
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				off, ok := asked[st.Topic][sp.Partition]
				if !ok {
					continue
				}
				if sp.ErrorCode != 0 {
					m.noteErr(kerr.ErrorForCode(sp.ErrorCode))
					continue
				}
				m.h.Committed(m.group, st.Topic, sp.Partition, off)
				m.mu.Lock()
				m.commits++
				m.mu.Unlock()
			}
		}
	})
}

func (m *GroupMember) noteErr(err error) {
	m.mu.Lock()
	m.lastErr = err
	m.mu.Unlock()
}

// Counts returns how many records the member read, how many partition
// commits succeeded, when it last read a record and its last error.
func (m *GroupMember) Counts() (consumed, commits int, lastRead time.Time, lastErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.consumed, m.commits, m.lastRead, m.lastErr
}

// WaitConsumed waits (bounded by ctx) until the member has read at least n
// more records than now.
func (m *GroupMember) WaitConsumed(ctx context.Context, n int) error {
	start, _, _, _ := m.Counts()
	for {
		got, _, _, lastErr := m.Counts()
		if got-start >= n {
			return nil
		}
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("group member %s: read %d of %d more records: %w (last error: %v)", m.name, got-start, n, err, lastErr)
		}
	}
}

// Stop ends the poll loop (bounded by memberStopTimeout) and closes the
// client, leaving the group. Calling it again does nothing.
func (m *GroupMember) Stop() { m.stop.Do(m.stopOnce) }

func (m *GroupMember) stopOnce() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(memberStopTimeout):
		m.t.Errorf("group member %s: poll loop did not end within %v", m.name, memberStopTimeout)
	}
	m.cl.Close()
	consumed, commits, _, lastErr := m.Counts()
	m.t.Logf("group member %s: %d records read, %d partition commits (last error: %v)", m.name, consumed, commits, lastErr)
}
