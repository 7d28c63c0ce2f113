//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// benchFailoverWatch records, after arm, the first produce batch written by a
// broker other than the one killed.
type benchFailoverWatch struct {
	mu     sync.Mutex // guards the fields below
	killed int32      // -1 when not armed
	since  time.Time
	first  time.Time
	done   chan struct{}
	last   time.Time // last batch written by anyone
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (w *benchFailoverWatch) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.ProduceBatchMetrics) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = now
	if w.killed >= 0 && meta.NodeID != w.killed && now.After(w.since) && w.first.IsZero() {
		w.first = now
		close(w.done)
	}
}

// arm starts watching for the first write after since by a broker other
// than killed.
func (w *benchFailoverWatch) arm(killed int32, since time.Time) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.killed, w.since, w.first, w.done = killed, since, time.Time{}, make(chan struct{})
	return w.done
}

// lastWrite returns when the last batch was acknowledged.
func (w *benchFailoverWatch) lastWrite() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// benchRunFailovers keeps a continuous acks=all load (cfg.rate/5 records/s) on
// the single partition of topic and cfg.failovers times: waits for a full
// ISR, SIGKILLs the leader, measures until a write is acknowledged by
// another broker, restarts the killed node. The client refreshes metadata
// at most every 100 ms and retries every 100 ms (kgo's defaults, 5 s and an
// exponential back-off from 250 ms to 2.5 s, add about a second after the
// 2 s broker session timeout; Kafka's Java client backs off 100 ms), so the
// figure is the cluster's, not the client's back-off.
func benchRunFailovers(t *testing.T, c *procluster.Cluster, adm *kadm.Client, cfg benchConfig, topic string, opts []kgo.Opt) ([]benchFailover, int64) {
	t.Helper()
	w := &benchFailoverWatch{killed: -1}
	cl := c.Client(t, append([]kgo.Opt{kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic),
		kgo.MetadataMinAge(100 * time.Millisecond), kgo.WithHooks(w),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond })}, opts...)...)
	benchWarmUp(t, cl, topic)
	vp := benchNewValuePool(cfg.size)
	var failed atomic.Int64
	var firstErr atomic.Value
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		perTick := max(1, cfg.rate/5/200)
		for seq := int64(0); seq < 100_000_000; {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			for range perTick {
				cl.Produce(loadCtx, &kgo.Record{Value: vp.get(1, seq)}, func(r *kgo.Record, err error) {
					if err != nil && loadCtx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					vp.put(r.Value)
				})
				seq++
			}
		}
	})
	defer func() {
		stopLoad()
		wg.Wait()
	}()

	var times []benchFailover
	for i := range cfg.failovers {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		td, err := benchWaitPartitions(ctx, adm, topic, func(p kadm.PartitionDetail) bool {
			return p.Leader >= 0 && len(p.ISR) == len(p.Replicas)
		})
		if err != nil {
			cancel()
			t.Fatalf("failover %d: before the kill: %v", i+1, err)
		}
		leader := td.Partitions[0].Leader
		ctl := int32(-1) // the active controller, the Raft leader
		if md, err := adm.Metadata(ctx); err == nil {
			ctl = md.Controller
		}
		if err := benchWaitCond(ctx, func() bool { return w.lastWrite().After(time.Now().Add(-50 * time.Millisecond)) }); err != nil {
			cancel()
			t.Fatalf("failover %d: the load is not flowing before the kill: %v", i+1, err)
		}
		t0 := time.Now()
		done := w.arm(leader, t0)
		c.Kill(leader)
		select {
		case <-done:
		case <-ctx.Done():
			cancel()
			t.Fatalf("failover %d: no write acknowledged within 90 s of killing leader %d", i+1, leader)
		}
		w.mu.Lock()
		d := w.first.Sub(t0)
		w.mu.Unlock()
		times = append(times, benchFailover{took: d, leader: leader, controller: leader == ctl})
		t.Logf("failover %d: killed leader %d (controller %d); the first write acknowledged by another broker %v later",
			i+1, leader, ctl, d.Round(time.Millisecond))
		c.Restart(leader)
		if err := c.WaitReady(ctx); err != nil {
			cancel()
			t.Fatalf("failover %d: restarted node %d not ready: %v", i+1, leader, err)
		}
		cancel()
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("failover load: %d records failed (first error: %v)", n, firstErr.Load())
	}
	return times, failed.Load()
}

// benchWaitCond polls cond every 10 ms until it holds or ctx ends.
func benchWaitCond(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// benchClusterCPU sums user and system time of every running node's process
// from /proc (clock ticks of 10 ms, the Linux USER_HZ).
func benchClusterCPU(t *testing.T, c *procluster.Cluster) time.Duration {
	t.Helper()
	var total time.Duration
	for _, n := range c.Nodes() {
		if !n.Running() {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.PID()))
		if err != nil {
			t.Logf("cpu of node %d: %v (not counted)", n.ID, err)
			continue
		}
		// Fields after the command name, which ends with the last ')':
		// utime and stime are fields 14 and 15, i.e. 11 and 12 here.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			t.Logf("cpu of node %d: short /proc stat (not counted)", n.ID)
			continue
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		k, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			t.Logf("cpu of node %d: bad /proc stat (not counted)", n.ID)
			continue
		}
		total += time.Duration(u+k) * 10 * time.Millisecond
	}
	return total
}

// benchSelfCPU returns the user+system time of this process so far.
func benchSelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLoadAvg returns the 1-minute load average, or "?".
func benchLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// benchProfiler fetches a CPU profile from a node's HTTP listener.
type benchProfiler struct {
	done chan error
}

// benchStartProfile asks httpAddr for a CPU profile of d and writes it to path.
func benchStartProfile(t *testing.T, httpAddr string, d time.Duration, path string) *benchProfiler {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("profile dir: %v", err)
	}
	p := &benchProfiler{done: make(chan error, 1)}
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", httpAddr, max(1, int(d/time.Second)))
		resp, err := (&http.Client{Timeout: d + time.Minute}).Get(url)
		if err != nil {
			p.done <- fmt.Errorf("profile %s: %w", url, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			p.done <- fmt.Errorf("profile %s: %s", url, resp.Status)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			p.done <- fmt.Errorf("profile: %w", err)
			return
		}
		_, err = io.Copy(f, io.LimitReader(resp.Body, 256<<20))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		p.done <- err
	}()
	return p
}

// wait waits for the profile to be written.
func (p *benchProfiler) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Errorf("profile: no answer within 2 minutes")
	}
}

// benchFormatReport prints the figures as Markdown tables.
func benchFormatReport(cfg benchConfig, rs []benchResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Produce throughput, %d s, %d B values, %d producers, %d partitions, linger 5 ms, 1 MB batches\n\n",
		int(cfg.duration/time.Second), cfg.size, cfg.producers, cfg.partitions)
	b.WriteString("| setup | records | rec/s | MB/s | broker CPU s (all nodes) | test process CPU s (clients + proxies) | load avg (before -> after) |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %s | %.1f | %.2f | %.2f | %s |\n", r.setup, r.tput.records, benchCommas(r.tput.recPerSec()),
			r.tput.mbPerSec(), r.tput.brokerCPU.Seconds(), r.tput.selfCPU.Seconds(), r.load)
	}
	fmt.Fprintf(&b, "\nratio (3 nodes acks=all / 1 node acks=1): %.0f %% (target >= 50 %%)\n",
		100*rs[1].tput.recPerSec()/rs[0].tput.recPerSec())
	fmt.Fprintf(&b, "\n### Produce latency at %d records/s, %d B values, linger 0, %d s\n\n",
		cfg.rate, cfg.size, int(cfg.duration/time.Second))
	b.WriteString("| setup | records | p50 ms | p99 ms | p999 ms | max ms |\n|---|---|---|---|---|---|\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", r.setup, r.lat.records, ms(r.lat.p50), ms(r.lat.p99),
			ms(r.lat.p999), ms(r.lat.max))
	}
	for _, r := range rs {
		if len(r.failovers) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### Failover (%s): SIGKILL of the leader to the first write acknowledged by another broker\n\n", r.setup)
		var parts []string
		var sorted []time.Duration
		for _, f := range r.failovers {
			note := ""
			if f.controller {
				note = " (the controller too)"
			}
			parts = append(parts, fmt.Sprintf("%s ms, node %d%s", ms(f.took), f.leader, note))
			sorted = append(sorted, f.took)
		}
		slices.Sort(sorted)
		fmt.Fprintf(&b, "each: %s; median %s ms; records failed: %d\n", strings.Join(parts, "; "),
			ms(sorted[len(sorted)/2]), r.failErrors)
	}
	return b.String()
}

// benchCommas formats a rate with thousands separators.
func benchCommas(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
