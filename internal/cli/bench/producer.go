package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// payloadPoolBytes bounds the memory of the distinct record values.
const payloadPoolBytes = 8 << 20

// maxPayloads is how many distinct record values are cycled at most.
const maxPayloads = 64

// progressEvery is the interval of the progress lines.
const progressEvery = time.Second

// makePayloads returns distinct random values of size bytes from A–Z (as
// Kafka's producer perf test fills them): neither trivially compressible nor
// incompressible. The seed is fixed so runs are comparable.
func makePayloads(size int) [][]byte {
	n := maxPayloads
	if size > 0 {
		n = min(maxPayloads, max(1, payloadPoolBytes/size))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		p := make([]byte, size)
		for j := range p {
			p[j] = 'A' + byte(rng.IntN(26))
		}
		out[i] = p
	}
	return out
}

// produceRun is one execution of `bench produce`: the shared counters the
// producers' promises update and the progress line reads.
type produceRun struct {
	topic      string
	clients    []*kgo.Client
	payloads   [][]byte
	recordSize int64
	hist       *histogram
	acked      atomic.Int64
	failed     atomic.Int64

	errMu    sync.Mutex // guards firstErr
	firstErr error
}

func newProduceRun(topic string, o *produceOptions, clients []*kgo.Client) *produceRun {
	return &produceRun{
		topic:      topic,
		clients:    clients,
		payloads:   makePayloads(o.recordSize),
		recordSize: int64(o.recordSize),
		hist:       newHistogram(),
	}
}

// inflight is one record on its way: the kgo record, when Produce was called,
// and a promise bound to it once, so that steady-state producing allocates
// nothing here. It returns to the pool in its promise, after which kgo no
// longer touches the record.
type inflight struct {
	rec     kgo.Record
	start   time.Time
	promise func(*kgo.Record, error)
}

// done is every record's promise: it records the latency or the error.
func (r *produceRun) done(in *inflight, err error, pool *sync.Pool) {
	if err != nil {
		r.failed.Add(1)
		r.errMu.Lock()
		if r.firstErr == nil {
			r.firstErr = err
		}
		r.errMu.Unlock()
	} else {
		r.hist.Record(time.Since(in.start))
		r.acked.Add(1)
	}
	pool.Put(in)
}

// execute runs the producers until each has sent its share of o.records,
// --duration passes or ctx ends, waits for every acknowledgement (bounded by
// twice the delivery timeout), and returns how long that took. The progress
// printer, when on, runs alongside.
func (r *produceRun) execute(ctx context.Context, deliveryTimeout time.Duration, o *produceOptions, stderr io.Writer) (time.Duration, error) {
	stop := make(chan struct{})
	var stopOnce sync.Once
	closeStop := func() { stopOnce.Do(func() { close(stop) }) }
	defer closeStop()
	if o.duration > 0 {
		t := time.AfterFunc(o.duration, closeStop)
		defer t.Stop()
	}
	go func() { // ends with the run: stop closes when execute returns
		select {
		case <-ctx.Done():
			closeStop()
		case <-stop:
		}
	}()

	start := time.Now()
	progressStop := make(chan struct{})
	closed := make(chan struct{})
	close(closed)
	var progressDone <-chan struct{} = closed
	if !o.quiet {
		progressDone = progress(stderr, progressEvery, start, r.progressLine(), progressStop)
	}

	errs := make([]error, len(r.clients))
	var wg sync.WaitGroup
	k := int64(len(r.clients))
	for i, cl := range r.clients {
		quota := o.records / k
		if int64(i) < o.records%k {
			quota++
		}
		p := pacer{start: start, rate: o.rate / float64(k)}
		wg.Go(func() { errs[i] = r.produceLoop(ctx, cl, quota, p, stop, deliveryTimeout) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(progressStop)
	<-progressDone
	for _, err := range errs {
		if err != nil {
			return elapsed, err
		}
	}
	return elapsed, nil
}

// produceLoop is one producer: it hands quota records to cl, paced by p,
// until stop closes, then flushes. Records already handed over are delivered
// even after ctx ends; the flush is bounded by 2*deliveryTimeout.
func (r *produceRun) produceLoop(ctx context.Context, cl *kgo.Client, quota int64, p pacer, stop <-chan struct{}, deliveryTimeout time.Duration) error {
	produceCtx := context.WithoutCancel(ctx)
	var pool sync.Pool
	pool.New = func() any {
		in := &inflight{}
		in.promise = func(_ *kgo.Record, err error) { r.done(in, err, &pool) }
		return in
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
loop:
	for sent := int64(0); sent < quota; sent++ {
		if !p.wait(sent, timer, stop) {
			break
		}
		select {
		case <-stop:
			break loop
		default:
		}
		in := pool.Get().(*inflight)
		in.rec = kgo.Record{Topic: r.topic, Value: r.payloads[sent%int64(len(r.payloads))]}
		in.start = time.Now()
		cl.Produce(produceCtx, &in.rec, in.promise)
	}
	flushCtx, cancel := context.WithTimeout(produceCtx, 2*deliveryTimeout+5*time.Second)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("bench produce: waiting for acknowledgements: %w", err)
	}
	return nil
}

// progressLine returns the progress printer's line function: the interval's
// rate and the latency percentiles so far.
func (r *produceRun) progressLine() func(time.Duration) string {
	var lastRecords int64
	var lastAt time.Duration
	return func(elapsed time.Duration) string {
		records := r.acked.Load()
		recs, mbs := rates(records-lastRecords, (records-lastRecords)*r.recordSize, elapsed-lastAt)
		lastRecords, lastAt = records, elapsed
		s := r.hist.Snapshot()
		return fmt.Sprintf("%6.1fs  %10d records  %9.0f rec/s  %8.2f MB/s  p50 %.3f ms  p99 %.3f ms  max %.3f ms  errors %d",
			elapsed.Seconds(), records, recs, mbs, ms(s.Quantile(0.50)), ms(s.Quantile(0.99)), ms(s.Max()), r.failed.Load())
	}
}

// result summarises the run; call it after execute returned.
func (r *produceRun) result(elapsed time.Duration) *ProduceResult {
	s := r.hist.Snapshot()
	records := r.acked.Load()
	bytes := records * r.recordSize
	recs, mbs := rates(records, bytes, elapsed)
	r.errMu.Lock()
	firstErr := errString(r.firstErr)
	r.errMu.Unlock()
	return &ProduceResult{
		Records:       records,
		Bytes:         bytes,
		Seconds:       round(elapsed.Seconds(), 3),
		RecordsPerSec: round(recs, 1),
		MBPerSec:      round(mbs, 3),
		P50Ms:         ms(s.Quantile(0.50)),
		P99Ms:         ms(s.Quantile(0.99)),
		P999Ms:        ms(s.Quantile(0.999)),
		MaxMs:         ms(s.Max()),
		AvgMs:         ms(s.Mean()),
		Errors:        r.failed.Load(),
		FirstError:    firstErr,
	}
}
