//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
