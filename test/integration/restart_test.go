package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// ackLog records what an acks=all producer was told: value -> where.
type ackLog struct {
	mu     sync.Mutex
	acked  map[string][2]int64 // partition, offset
	errs   int
	handed atomic.Int64 // records handed to the client
}

// producerLoop produces records "prefix-N" (N from 0) with franz-go's
// default idempotent, acks=all producer until ctx ends or limit records were
// handed to the client, logging every acknowledged one.
func producerLoop(ctx context.Context, cl *kgo.Client, prefix string, limit int, log *ackLog) {
	for i := 0; i < limit && ctx.Err() == nil; i++ {
		value := fmt.Sprintf("%s-%08d", prefix, i)
		log.handed.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(value[len(value)-2:]), Value: []byte(value)}, func(r *kgo.Record, err error) {
			log.mu.Lock()
			defer log.mu.Unlock()
			if err != nil {
				log.errs++
				return
			}
			log.acked[value] = [2]int64{int64(r.Partition), r.Offset}
		})
	}
}

func (l *ackLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// readAll consumes every record of a topic below the high watermarks.
func readAll(ctx context.Context, t *testing.T, addr, topic string, partitions int32) []record {
	t.Helper()
	adm := newAdmin(t, addr)
	total := 0
	for p, off := range listOffsets(ctx, t, adm, topic, -1) {
		start := listOffsets(ctx, t, adm, topic, -2)[p][0]
		if start != 0 {
			t.Errorf("partition %d: log start %d after restart, want 0", p, start)
		}
		total += int(off[0] - start)
	}
	got, err := franzGoConsume(ctx, addr, topic, partitions, total)
	if err != nil {
		t.Fatalf("read %s back: %v", topic, err)
	}
	return got
}

// checkAcked checks a topic read back after a crash: no value twice, offsets
// dense from 0 per partition, and every acknowledged record present at the
// partition and offset it was acknowledged at.
func checkAcked(t *testing.T, got []record, acked map[string][2]int64) {
	t.Helper()
	at := map[string][2]int64{}
	byPartition := map[int32][]int64{}
	for _, r := range got {
		if prev, dup := at[r.value]; dup {
			t.Errorf("record %q stored twice: at %v and %d/%d", r.value, prev, r.partition, r.offset)
			continue
		}
		at[r.value] = [2]int64{int64(r.partition), r.offset}
		byPartition[r.partition] = append(byPartition[r.partition], r.offset)
	}
	for p, offs := range byPartition {
		slices.Sort(offs)
		for i, o := range offs {
			if o != int64(i) {
				t.Errorf("partition %d: offsets not dense: position %d holds offset %d", p, i, o)
				break
			}
		}
	}
	lost := 0
	for v, where := range acked {
		got, ok := at[v]
		switch {
		case !ok:
			if lost < 5 {
				t.Errorf("acknowledged record %q (at %v) lost", v, where)
			}
			lost++
		case got != where:
			t.Errorf("acknowledged record %q at %v, acknowledged at %v", v, got, where)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost", lost, len(acked))
	}
}

// producerStateCheck is an idempotent producer's batches sent by hand
// before a restart, to be re-sent after it.
type producerStateCheck struct {
	topic   string
	pid     int64
	epoch   int16
	batches [][]byte
	bases   []int64
	nextSeq int32
	leo     int64
}

// sendIdempotentBatches sends three acknowledged batches of one producer.
func sendIdempotentBatches(t *testing.T, addr, topic string) *producerStateCheck {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.nc.Close()
	pc := &producerStateCheck{topic: topic}
	pc.pid, pc.epoch = initProducerID(t, c)
	now := time.Now().UnixMilli()
	for range 3 {
		b := batchtest.New(4, now).Idempotent(pc.pid, pc.epoch, pc.nextSeq).Encode()
		p, err := produceRaw(c, topic, 0, b)
		if err != nil || p.ErrorCode != 0 {
			t.Fatalf("idempotent batch at sequence %d: %v %s", pc.nextSeq, err, codeName(p.ErrorCode))
		}
		pc.batches = append(pc.batches, b)
		pc.bases = append(pc.bases, p.BaseOffset)
		pc.nextSeq += 4
	}
	pc.leo = logEndOffset(t, c, topic, 0)
	return pc
}

// verify re-sends the batches after a restart: each is answered as a
// duplicate (its original base offset, nothing appended); a gap is
// OUT_OF_ORDER_SEQUENCE_NUMBER; the next sequence is appended.
func (pc *producerStateCheck) verify(t *testing.T, addr string) {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.nc.Close()
	for i, b := range pc.batches {
		p, err := produceRaw(c, pc.topic, 0, b)
		if err != nil {
			t.Fatalf("re-send batch %d: %v", i, err)
		}
		if p.ErrorCode != 0 || p.BaseOffset != pc.bases[i] {
			t.Errorf("re-sent batch %d after restart: error %s base offset %d, want a duplicate at %d",
				i, codeName(p.ErrorCode), p.BaseOffset, pc.bases[i])
		}
	}
	if leo := logEndOffset(t, c, pc.topic, 0); leo != pc.leo {
		t.Errorf("log end offset %d after re-sending acknowledged batches, want %d", leo, pc.leo)
	}
	now := time.Now().UnixMilli()
	gap := batchtest.New(1, now).Idempotent(pc.pid, pc.epoch, pc.nextSeq+5).Encode()
	if p, err := produceRaw(c, pc.topic, 0, gap); err != nil || p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Errorf("sequence gap after restart: %v %s, want OUT_OF_ORDER_SEQUENCE_NUMBER", err, codeName(p.ErrorCode))
	}
	next := batchtest.New(1, now).Idempotent(pc.pid, pc.epoch, pc.nextSeq).Encode()
	if p, err := produceRaw(c, pc.topic, 0, next); err != nil || p.ErrorCode != 0 || p.BaseOffset != pc.leo {
		t.Errorf("next sequence after restart: %v %s base %d, want base %d", err, codeName(p.ErrorCode), p.BaseOffset, pc.leo)
	}
}

// topicSnapshot is what must survive a restart of a topic.
type topicSnapshot struct {
	id         kadm.TopicID
	partitions int
	configs    map[string]string // dynamic topic configs
}

func snapshotTopic(ctx context.Context, t *testing.T, addr, topic string) topicSnapshot {
	t.Helper()
	adm := newAdmin(t, addr)
	d := describeTopic(ctx, t, adm, topic)
	s := topicSnapshot{id: d.ID, partitions: len(d.Partitions), configs: map[string]string{}}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				s.configs[c.Key] = c.MaybeValue()
			}
		}
	}
	return s
}

func (s topicSnapshot) equal(o topicSnapshot) bool {
	return s.id == o.id && s.partitions == o.partitions && fmt.Sprint(s.configs) == fmt.Sprint(o.configs)
}

// crashConfigs are the overrides the crash tests' topic is created with.
var crashConfigs = map[string]*string{
	"retention.ms": ptr("123456789"), "max.message.bytes": ptr("200000"), "segment.bytes": ptr("262144"),
}

// TestCrashDuringProduce runs the samsa binary with log.fsync.on.ack=true,
// SIGKILLs it while franz-go's idempotent acks=all producer is producing, and
// restarts it on the same data directory, for a few rounds. After each
// restart every acknowledged record is stored exactly once at the offset it
// was acknowledged at, offsets are dense, no record is stored twice, the
// topic keeps its id, partitions and configs, and an idempotent producer's
// acknowledged batches re-sent after the restart are answered as duplicates.
func TestCrashDuringProduce(t *testing.T) {
	rounds, perRound := 3, 3_000
	if testing.Short() {
		rounds, perRound = 1, 1_000
	}
	const topic, partitions = "crash", 3
	dataDir := t.TempDir()
	set := map[string]string{"log.fsync.on.ack": "true"}
	proc := startProc(t, dataDir, set)
	ctx := testContext(t, 3*time.Minute)
	createTopic(ctx, t, newAdmin(t, proc.addr), topic, partitions, crashConfigs)
	createTopic(ctx, t, newAdmin(t, proc.addr), "crash-pid", 1, nil)
	want := snapshotTopic(ctx, t, proc.addr, topic)
	checkFsyncOnAck(ctx, t, proc.addr)
	acked := map[string][2]int64{}
	for round := range rounds {
		pstate := sendIdempotentBatches(t, proc.addr, "crash-pid")
		log := &ackLog{acked: map[string][2]int64{}}
		cl, err := kgo.NewClient(kgo.SeedBrokers(proc.addr), kgo.DefaultProduceTopic(topic),
			kgo.RecordRetries(3), kgo.RetryTimeout(2*time.Second), kgo.ProduceRequestTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		pctx, stopProducing := context.WithCancel(ctx)
		var producing sync.WaitGroup
		producing.Go(func() { producerLoop(pctx, cl, fmt.Sprintf("r%d", round), 20*perRound, log) })
		waitFor(t, fmt.Sprintf("round %d: %d acknowledged records", round, perRound), time.Minute, func() (bool, error) {
			return log.count() >= perRound, nil
		})
		handedAtKill, ackedAtKill := log.handed.Load(), log.count()
		proc.kill(t) // mid-produce: the loop is still handing records to the client
		stopProducing()
		producing.Wait()
		cl.Close() // fails whatever was not acknowledged
		waitFor(t, "every produce callback", 30*time.Second, func() (bool, error) {
			log.mu.Lock()
			defer log.mu.Unlock()
			return int64(len(log.acked)+log.errs) == log.handed.Load(), nil
		})
		log.mu.Lock()
		t.Logf("round %d: at SIGKILL %d records handed to the producer, %d acknowledged; in the end %d acknowledged, %d failed",
			round, handedAtKill, ackedAtKill, len(log.acked), log.errs)
		for v, w := range log.acked {
			acked[v] = w
		}
		log.mu.Unlock()

		proc = startProc(t, dataDir, set)
		if got := snapshotTopic(ctx, t, proc.addr, topic); !got.equal(want) {
			t.Errorf("round %d: topic after restart %+v, before %+v", round, got, want)
		}
		checkAcked(t, readAll(ctx, t, proc.addr, topic, partitions), acked)
		pstate.verify(t, proc.addr)
		if t.Failed() {
			t.Logf("server log:\n%s", proc.log())
			return
		}
	}
}

// checkFsyncOnAck fails the test unless the node reports
// log.fsync.on.ack=true.
func checkFsyncOnAck(ctx context.Context, t *testing.T, addr string) {
	t.Helper()
	rcs, err := newAdmin(t, addr).DescribeBrokerConfigs(ctx, 1)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe broker configs: %v %v", err, rcs)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == "log.fsync.on.ack" {
			if c.MaybeValue() != "true" {
				t.Fatalf("log.fsync.on.ack = %q, want true", c.MaybeValue())
			}
			return
		}
	}
	t.Fatal("log.fsync.on.ack not among the broker configs")
}

// TestCleanRestart stops the samsa binary with SIGTERM (it must exit 0 and
// say so) and restarts it: records, topic id, partitions, configs and
// producer state are all there.
func TestCleanRestart(t *testing.T) {
	const topic, partitions, n = "clean", 3, 2_000
	dataDir := t.TempDir()
	proc := startProc(t, dataDir, nil)
	ctx := testContext(t, 2*time.Minute)
	createTopic(ctx, t, newAdmin(t, proc.addr), topic, partitions, crashConfigs)
	createTopic(ctx, t, newAdmin(t, proc.addr), "clean-pid", 1, nil)
	want := snapshotTopic(ctx, t, proc.addr, topic)
	log := &ackLog{acked: map[string][2]int64{}}
	func() {
		cl := newClient(t, proc.addr, kgo.DefaultProduceTopic(topic))
		defer cl.Close()
		producerLoop(ctx, cl, "clean", n, log)
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}()
	if log.count() != n {
		t.Fatalf("%d of %d records acknowledged", log.count(), n)
	}
	pstate := sendIdempotentBatches(t, proc.addr, "clean-pid")
	proc.terminate(t)
	if out := proc.log(); !strings.Contains(out, "stopped cleanly") {
		t.Errorf("no \"stopped cleanly\" in the server log:\n%s", out)
	}

	start := time.Now()
	proc = startProc(t, dataDir, nil)
	t.Logf("restart to serving: %v", time.Since(start).Round(time.Millisecond))
	if got := snapshotTopic(ctx, t, proc.addr, topic); !got.equal(want) {
		t.Errorf("topic after restart %+v, before %+v", got, want)
	}
	got := readAll(ctx, t, proc.addr, topic, partitions)
	if len(got) != n {
		t.Errorf("%d records after restart, want %d", len(got), n)
	}
	checkAcked(t, got, log.acked)
	pstate.verify(t, proc.addr)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("test deadline passed")
	}
}
