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

// The cluster benchmark compares a 3-node cluster (RF 3,
// min.insync.replicas=2, acks=all, idempotent) with a single node (acks=1)
// under the same load, on real samsa processes started by procluster:
// produce throughput, produce latency at a fixed rate, and the time from
// SIGKILL of a partition leader to the first write acknowledged by another
// broker. It is slow and its figures depend on the machine, so it runs only
// with SAMSA_BENCH=1:
//
//	SAMSA_BENCH=1 go test ./test/cluster -run TestClusterBench -v -timeout 20m
//
// Knobs (environment): SAMSA_BENCH_SECONDS (length of each throughput and
// latency run, default 10), SAMSA_BENCH_RATE (records/s of the latency
// runs, default 5000), SAMSA_BENCH_RECORD (value bytes, default 1024),
// SAMSA_BENCH_PRODUCERS (concurrent producer clients of the throughput
// runs, default 2), SAMSA_BENCH_BUFFER_MB (what each of them buffers,
// default 32 like the Java producer's buffer.memory; kgo's own default of
// 10,000 records starves acks=all of records in flight),
// SAMSA_BENCH_FAILOVERS (leader kills, default 3),
// SAMSA_BENCH_LOGS (a directory that keeps the node logs),
// SAMSA_BENCH_PROFILE (a directory: a CPU profile of every node is taken
// during each throughput run and saved there; go test's -cpuprofile
// profiles the test process, that is the clients and the proxies).

// benchConfig is the load shared by both setups.
type benchConfig struct {
	duration   time.Duration
	rate       int
	size       int
	producers  int
	bufferMB   int // kgo.MaxBufferedBytes of each throughput client, in MiB
	partitions int32
	failovers  int
	profileDir string
}

// benchEnvInt reads an integer of at least lo from the environment.
func benchEnvInt(t *testing.T, name string, def, lo int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > 1_000_000 {
		t.Fatalf("%s=%q: want an integer from %d to 1000000", name, s, lo)
	}
	return v
}

// benchSetup is one side of the comparison.
type benchSetup struct {
	name    string
	nodes   int
	rf      int16
	configs map[string]*string
	opts    []kgo.Opt // producer options of this setup
}

// benchFailover is one leader kill.
type benchFailover struct {
	took       time.Duration // from SIGKILL to the first write acknowledged by another broker
	leader     int32         // the node killed
	controller bool          // it was also the active controller
}

// benchResult holds one setup's figures.
type benchResult struct {
	setup      string
	tput       benchThroughput
	lat        benchLatency
	failovers  []benchFailover
	failErrors int64
	load       string // /proc/loadavg before and after the setup
}

// TestClusterBench measures both setups one after the other and prints the
// report (Markdown) on standard output.
func TestClusterBench(t *testing.T) {
	if os.Getenv("SAMSA_BENCH") != "1" {
		t.Skip("cluster benchmark: slow and machine-dependent; run it with SAMSA_BENCH=1 (see docs/benchmarks.md)")
	}
	cfg := benchConfig{
		duration:   time.Duration(benchEnvInt(t, "SAMSA_BENCH_SECONDS", 10, 1)) * time.Second,
		rate:       benchEnvInt(t, "SAMSA_BENCH_RATE", 5000, 1),
		size:       benchEnvInt(t, "SAMSA_BENCH_RECORD", 1024, 1),
		producers:  benchEnvInt(t, "SAMSA_BENCH_PRODUCERS", 2, 1),
		partitions: 6,
		bufferMB:   benchEnvInt(t, "SAMSA_BENCH_BUFFER_MB", 32, 1),
		failovers:  benchEnvInt(t, "SAMSA_BENCH_FAILOVERS", 3, 0),
		profileDir: os.Getenv("SAMSA_BENCH_PROFILE"),
	}
	if cfg.size < 32 || cfg.size > 1<<20 {
		t.Fatalf("SAMSA_BENCH_RECORD=%d: want 32..1048576 bytes", cfg.size)
	}
	minISR := "2"
	setups := []benchSetup{
		{name: "1 node, RF 1, acks=1", nodes: 1, rf: 1, opts: []kgo.Opt{
			kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgo.LeaderAck()),
			kgo.MaxProduceRequestsInflightPerBroker(5),
		}},
		{name: "3 nodes, RF 3, min ISR 2, acks=all", nodes: 3, rf: 3,
			configs: map[string]*string{"min.insync.replicas": &minISR}},
	}
	var results []benchResult
	for _, s := range setups {
		t.Run(strings.ReplaceAll(s.name, " ", "_"), func(t *testing.T) {
			results = append(results, benchRunSetup(t, cfg, s))
		})
	}
	if len(results) != len(setups) {
		t.Logf("no report: %d of %d setups ran (-run selected some, or one failed)", len(results), len(setups))
		return
	}
	fmt.Print(benchFormatReport(cfg, results))
}

// benchRunSetup starts a cluster for s and measures it.
func benchRunSetup(t *testing.T, cfg benchConfig, s benchSetup) (res benchResult) {
	var logDir string // "" keeps the logs in the test's temporary directory
	if d := os.Getenv("SAMSA_BENCH_LOGS"); d != "" {
		logDir = filepath.Join(d, fmt.Sprintf("%dnode", s.nodes))
	}
	c := procluster.Start(t, procluster.Options{Nodes: s.nodes, LogDir: logDir})
	adm := c.Admin(t)
	res = benchResult{setup: s.name}
	load0 := benchLoadAvg()
	defer func() { res.load = load0 + " -> " + benchLoadAvg() }()

	tp := createBenchTopic(t, adm, "tput", cfg.partitions, s.rf, s.configs)
	var profs []*benchProfiler
	if cfg.profileDir != "" {
		for _, n := range c.Nodes() {
			profs = append(profs, benchStartProfile(t, n.HTTPAddr, cfg.duration, filepath.Join(cfg.profileDir,
				fmt.Sprintf("cpu-%dnode-node%d.pprof", s.nodes, n.ID))))
		}
	}
	cpu0, self0 := benchClusterCPU(t, c), benchSelfCPU()
	res.tput = benchRunThroughput(t, c, cfg, tp, s.opts)
	res.tput.brokerCPU, res.tput.selfCPU = benchClusterCPU(t, c)-cpu0, benchSelfCPU()-self0
	for _, p := range profs {
		p.wait(t)
	}
	t.Logf("%s: throughput %+v", s.name, res.tput)

	lt := createBenchTopic(t, adm, "lat", cfg.partitions, s.rf, s.configs)
	res.lat = benchRunLatency(t, c, cfg, lt, s.opts)
	t.Logf("%s: latency %+v", s.name, res.lat)

	if s.nodes > 1 && cfg.failovers > 0 {
		ft := createBenchTopic(t, adm, "failover", 1, s.rf, s.configs)
		res.failovers, res.failErrors = benchRunFailovers(t, c, adm, cfg, ft, s.opts)
		t.Logf("%s: failovers %v (%d failed records)", s.name, res.failovers, res.failErrors)
	}
	return res
}

// createBenchTopic creates topic and waits until every partition has a
// leader and a full ISR.
func createBenchTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]*string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, partitions, rf, configs, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if _, err := benchWaitPartitions(ctx, adm, topic, func(p kadm.PartitionDetail) bool {
		return p.Leader >= 0 && len(p.ISR) == int(rf)
	}); err != nil {
		t.Fatalf("topic %s: %v", topic, err)
	}
	return topic
}

// benchWaitPartitions polls topic's metadata until ok accepts every partition
// (there must be at least one), and returns the last metadata seen.
func benchWaitPartitions(ctx context.Context, adm *kadm.Client, topic string, ok func(kadm.PartitionDetail) bool) (kadm.TopicDetail, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no metadata yet"
	for {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			last = err.Error()
		} else if td, found := md.Topics[topic]; !found || td.Err != nil || len(td.Partitions) == 0 {
			last = fmt.Sprintf("topic not ready: found=%v err=%v", found, td.Err)
		} else {
			all := true
			for _, p := range td.Partitions.Sorted() {
				if p.Err != nil || !ok(p) {
					all = false
					last = fmt.Sprintf("partition %d: leader %d ISR %v replicas %v err %v", p.Partition, p.Leader, p.ISR, p.Replicas, p.Err)
					break
				}
			}
			if all {
				return td, nil
			}
		}
		select {
		case <-ctx.Done():
			return kadm.TopicDetail{}, fmt.Errorf("waiting for partitions: %w (last: %s)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// benchValuePool recycles record values; a value is unique by its prefix
// "p<producer>-<seq>" and padded to the configured size.
type benchValuePool struct {
	size int
	pool sync.Pool
}

func benchNewValuePool(size int) *benchValuePool {
	vp := &benchValuePool{size: size}
	vp.pool.New = func() any {
		b := make([]byte, size)
		for i := range b {
			b[i] = 'x'
		}
		return &b
	}
	return vp
}

// get returns a value for producer p's record seq.
func (vp *benchValuePool) get(p int, seq int64) []byte {
	b := *vp.pool.Get().(*[]byte)
	head := strconv.AppendInt(append(strconv.AppendInt(append(b[:0], 'p'), int64(p), 10), '-'), seq, 10)
	v := b[:vp.size]
	for i := len(head); i < len(head)+20 && i < len(v); i++ {
		v[i] = 'x' // overwrite what a longer earlier prefix left
	}
	return v
}

func (vp *benchValuePool) put(b []byte) { vp.pool.Put(&b) }

// benchThroughput is the result of a fixed-duration produce run.
type benchThroughput struct {
	records, bytes, errors int64
	elapsed                time.Duration
	brokerCPU              time.Duration // user+system time of every node
	selfCPU                time.Duration // of the test process: clients and proxies
	firstErr               string
}

func (r benchThroughput) recPerSec() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r benchThroughput) mbPerSec() float64  { return float64(r.bytes) / r.elapsed.Seconds() / 1e6 }

// benchRunThroughput produces as fast as cfg.producers clients can (linger
// 5 ms, 1 MB batches, no compression) for cfg.duration, then waits for
// every outstanding record; the rate counts acknowledged records over the
// whole time including that final flush.
func benchRunThroughput(t *testing.T, c *procluster.Cluster, cfg benchConfig, topic string, opts []kgo.Opt) benchThroughput {
	t.Helper()
	vp := benchNewValuePool(cfg.size)
	var res benchThroughput
	var acked, failed, bytes atomic.Int64
	var errOnce sync.Once
	clients := make([]*kgo.Client, cfg.producers)
	for i := range clients {
		clients[i] = c.Client(t, append([]kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond),
			kgo.ProducerBatchMaxBytes(1_000_000), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.MaxBufferedBytes(cfg.bufferMB << 20), kgo.MaxBufferedRecords(1 << 20), kgo.DefaultProduceTopic(topic)}, opts...)...)
		benchWarmUp(t, clients[i], topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+2*time.Minute)
	defer cancel()
	start := time.Now()
	stop := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for p, cl := range clients {
		wg.Go(func() {
			for seq := int64(0); seq < 100_000_000 && time.Now().Before(stop); seq++ {
				v := vp.get(p, seq)
				cl.Produce(ctx, &kgo.Record{Value: v}, func(r *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
						errOnce.Do(func() { res.firstErr = err.Error() })
					} else {
						acked.Add(1)
						bytes.Add(int64(len(r.Value)))
					}
					vp.put(r.Value)
				})
			}
			if err := cl.Flush(ctx); err != nil {
				errOnce.Do(func() { res.firstErr = "flush: " + err.Error() })
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.records, res.errors, res.bytes = acked.Load(), failed.Load(), bytes.Load()
	if res.errors > 0 || res.records == 0 {
		t.Errorf("throughput on %s: %d acknowledged, %d failed (first error: %s)", topic, res.records, res.errors, res.firstErr)
	}
	return res
}

// benchWarmUp produces one record synchronously, so connections and metadata
// are in place before the clock starts. A topic just created may not be
// known to its leader for a moment (kgo gives up on an unknown topic after
// a few retries), so it tries again for up to a minute.
func benchWarmUp(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for attempt := 0; attempt < 600 && ctx.Err() == nil; attempt++ {
		if err = cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("warm-up")}).FirstErr(); err == nil {
			return
		}
		t.Logf("warm-up produce to %s (attempt %d): %v", topic, attempt+1, err)
		select { // back off before the next attempt
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("warm-up produce to %s: %v", topic, err)
}

// benchLatency is the result of a fixed-rate produce run.
type benchLatency struct {
	records, errors     int64
	p50, p99, p999, max time.Duration
	firstErr            string
}

// benchRunLatency produces cfg.rate records/s (linger 0) for cfg.duration from
// one client and measures each record from its Produce call to its
// acknowledgement. Records are sent in 1 ms steps, so the pacing stays
// accurate without a timer per record.
func benchRunLatency(t *testing.T, c *procluster.Cluster, cfg benchConfig, topic string, opts []kgo.Opt) benchLatency {
	t.Helper()
	cl := c.Client(t, append([]kgo.Opt{kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.DefaultProduceTopic(topic)}, opts...)...)
	benchWarmUp(t, cl, topic)
	vp := benchNewValuePool(cfg.size)
	total := int64(cfg.rate) * int64(cfg.duration/time.Millisecond) / 1000
	lats := make([]time.Duration, 0, total)
	var mu sync.Mutex // guards lats and res
	var res benchLatency
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+2*time.Minute)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for sent := int64(0); sent < total; {
		select {
		case <-ctx.Done():
			t.Fatalf("latency run on %s: %v after %d records", topic, ctx.Err(), sent)
		case now := <-tick.C:
			due := min(total, int64(now.Sub(start).Seconds()*float64(cfg.rate)))
			for ; sent < due; sent++ {
				at := time.Now()
				cl.Produce(ctx, &kgo.Record{Value: vp.get(0, sent)}, func(r *kgo.Record, err error) {
					d := time.Since(at)
					mu.Lock()
					if err != nil {
						res.errors++
						if res.firstErr == "" {
							res.firstErr = err.Error()
						}
					} else {
						lats = append(lats, d)
					}
					mu.Unlock()
					vp.put(r.Value)
				})
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("latency run on %s: flush: %v", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if res.errors > 0 || len(lats) == 0 {
		t.Errorf("latency run on %s: %d acknowledged, %d failed (first error: %s)", topic, len(lats), res.errors, res.firstErr)
		return res
	}
	slices.Sort(lats)
	q := func(f float64) time.Duration { return lats[min(len(lats)-1, int(f*float64(len(lats))))] }
	res.records, res.p50, res.p99, res.p999, res.max = int64(len(lats)), q(0.50), q(0.99), q(0.999), lats[len(lats)-1]
	return res
}

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
