//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// LoadOptions configure StartLoad.
type LoadOptions struct {
	// Topic is written to; Partitions is its partition count (records go
	// round-robin to partitions 0..Partitions-1, chosen by the load).
	Topic      string
	Partitions int32
	// Producers is how many producers (each its own client) run
	// (default 1). Producer i is named "p<i>" and sends "p<i>-<seq>".
	Producers int
	// Interval is the pause between two sends of one producer (default
	// 5 ms, about 200 records/s per producer).
	Interval time.Duration
	// MaxInFlight bounds each producer's unanswered records (default
	// 2000); a producer at the bound skips sends until answers arrive.
	MaxInFlight int
	// Opts are extra client options (the defaults are idempotent acks=all
	// with kgo.ManualPartitioner, seeded with every node).
	Opts []kgo.Opt
}

// Load is a running load generator: producers that send unique values
// continuously and record every send and answer in a checker.History.
type Load struct {
	t   testing.TB
	h   *checker.History
	opt LoadOptions

	stop    chan struct{}
	wg      sync.WaitGroup // the send loops
	clients []*kgo.Client

	mu     sync.Mutex // guards the fields below
	acked  int
	failed int
	// acks lists, per partition, when each acknowledged record was sent
	// and acknowledged, in acknowledgement order.
	acks    map[int32][]ackTime
	lastErr error
}

type ackTime struct{ sent, acked time.Time }

// StartLoad starts o.Producers producers writing to o.Topic until Stop. The
// clients are closed when the test ends at the latest.
func StartLoad(t testing.TB, c *procluster.Cluster, h *checker.History, o LoadOptions) *Load {
	t.Helper()
	if o.Producers <= 0 {
		o.Producers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Millisecond
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 2000
	}
	l := &Load{t: t, h: h, opt: o, stop: make(chan struct{}), acks: map[int32][]ackTime{}}
	for i := range o.Producers {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(c.Bootstrap()...),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.MaxBufferedRecords(o.MaxInFlight + 1),
		}, o.Opts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatalf("load: producer %d: %v", i, err)
		}
		t.Cleanup(cl.Close)
		l.clients = append(l.clients, cl)
		l.wg.Add(1)
		go l.run(cl, fmt.Sprintf("p%d", i))
	}
	return l
}

// run is producer name's send loop; it ends when l.stop is closed.
func (l *Load) run(cl *kgo.Client, name string) {
	defer l.wg.Done()
	inflight := make(chan struct{}, l.opt.MaxInFlight)
	tick := time.NewTicker(l.opt.Interval)
	defer tick.Stop()
	for seq := 0; ; {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue // at the in-flight bound: skip this tick
		}
		p := int32(seq % int(l.opt.Partitions))
		value := fmt.Sprintf("%s-%d", name, seq)
		seq++
		l.h.Sent(name, checker.Record{Topic: l.opt.Topic, Partition: p, Value: value})
		sent := time.Now()
		cl.Produce(context.Background(), &kgo.Record{Topic: l.opt.Topic, Partition: p, Value: []byte(value)},
			func(r *kgo.Record, err error) {
				<-inflight
				l.answer(name, sent, r, err)
			})
	}
}

// answer records the outcome of one send.
func (l *Load) answer(producer string, sent time.Time, r *kgo.Record, err error) {
	rec := checker.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)}
	if err != nil {
		l.h.Failed(producer, rec, err)
		l.mu.Lock()
		l.failed++
		l.lastErr = err
		l.mu.Unlock()
		return
	}
	l.h.Acked(producer, rec)
	l.mu.Lock()
	l.acked++
	l.acks[r.Partition] = append(l.acks[r.Partition], ackTime{sent, time.Now()})
	l.mu.Unlock()
}

// Counts returns how many sends were acknowledged and how many failed so
// far, and the last failure.
func (l *Load) Counts() (acked, failed int, lastErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.failed, l.lastErr
}

// WaitAck waits (bounded by ctx) until a record of partition that was sent
// at or after since has been acknowledged, and returns when that first
// happened.
func (l *Load) WaitAck(ctx context.Context, partition int32, since time.Time) (time.Time, error) {
	for {
		l.mu.Lock()
		var first time.Time
		for _, a := range l.acks[partition] {
			if !a.sent.Before(since) && (first.IsZero() || a.acked.Before(first)) {
				first = a.acked
			}
		}
		l.mu.Unlock()
		if !first.IsZero() {
			return first, nil
		}
		if err := waitTick(ctx); err != nil {
			return time.Time{}, fmt.Errorf("load: no record of %s-%d sent since %s acknowledged: %w",
				l.opt.Topic, partition, since.Format(time.StampMilli), err)
		}
	}
}

// WaitAcked waits (bounded by ctx) until at least n more records than now
// have been acknowledged, on any partition.
func (l *Load) WaitAcked(ctx context.Context, n int) error {
	start, _, _ := l.Counts()
	for {
		acked, _, lastErr := l.Counts()
		if acked-start >= n {
			return nil
		}
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("load: %d of %d more acknowledgements: %w (last produce error: %v)", acked-start, n, err, lastErr)
		}
	}
}

// Stop stops sending, waits (bounded by ctx) for the answers to the
// records in flight, then closes the clients: records still unanswered
// fail with kgo.ErrClientClosed, an unknown outcome for the checker.
func (l *Load) Stop(ctx context.Context) {
	select {
	case <-l.stop:
		return // already stopped
	default:
	}
	close(l.stop)
	l.wg.Wait()
	for _, cl := range l.clients {
		if err := cl.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.t.Logf("load: flush: %v (records still in flight count as unknown outcome)", err)
		}
	}
	for _, cl := range l.clients {
		cl.Close()
	}
	acked, failed, lastErr := l.Counts()
	l.t.Logf("load on %s: %d acknowledged, %d failed (last error: %v)", l.opt.Topic, acked, failed, lastErr)
}

// MaxAckGap returns the longest time, over every partition, between two
// consecutive acknowledgements of records sent in [from, to): how long the
// producers saw a partition stall.
func (l *Load) MaxAckGap(from, to time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var most time.Duration
	for _, acks := range l.acks {
		var prev time.Time
		for _, a := range acks {
			if a.sent.Before(from) || !a.sent.Before(to) {
				continue
			}
			if !prev.IsZero() {
				most = max(most, a.acked.Sub(prev))
			}
			prev = a.acked
		}
	}
	return most
}
