package groups

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// TestResumeAfterRestart: a group's committed offsets survive a restart of
// the node, and a new consumer of the group starts exactly there.
func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := testserver.StartNode(testserver.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if first != nil {
			first.Close()
		}
	}()
	addr := first.KafkaAddr()
	setup(t, addr, "s", 3, 90)
	ctx := testContext(t, 60*time.Second)

	// Consume 40 records and commit exactly what was consumed.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("resume"), kgo.ConsumeTopics("s"),
		kgo.SessionTimeout(6*time.Second), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	next := map[int32]int64{}
	seen := 0
	for seen < 40 {
		fs := cl.PollRecords(ctx, 40-seen)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d: %v", seen, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			seen++
		})
		if err := cl.CommitRecords(ctx, fs.Records()...); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	cl.Close()
	adm := kadm.NewClient(newClient(t, addr))
	before, err := adm.FetchOffsets(ctx, "resume")
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range next {
		if c, ok := before.Lookup("s", p); !ok || c.At != o {
			t.Fatalf("partition %d committed %+v, want %d", p, c, o)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	first = nil

	second := startNode(t, dir)
	addr = second.KafkaAddr()
	adm = kadm.NewClient(newClient(t, addr))
	var after kadm.OffsetResponses
	if err := waitFor(ctx, "offsets after restart", func() error {
		var err error
		after, err = adm.FetchOffsets(ctx, "resume")
		if err == nil {
			err = after.Error()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for p, o := range next {
		if c, ok := after.Lookup("s", p); !ok || c.At != o {
			t.Fatalf("after restart partition %d committed %+v, want %d", p, c, o)
		}
	}

	produce(t, addr, "s", 90, 180) // every partition has records past its commit
	resumed := groupClient(t, addr, "resume", "s")
	firsts := map[int32]int64{}
	if err := waitFor(ctx, "first records after restart", func() error {
		resumed.PollRecords(ctx, 100).EachRecord(func(r *kgo.Record) {
			if _, ok := firsts[r.Partition]; !ok {
				firsts[r.Partition] = r.Offset
			}
		})
		if len(firsts) < 3 {
			return fmt.Errorf("records from %d partitions", len(firsts))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if firsts[p] != next[p] {
			t.Errorf("partition %d resumed at %d, committed %d", p, firsts[p], next[p])
		}
	}
}

// TestLagEqualsProducedMinusCommitted checks what `samsa group describe`
// and the lag API compute from: log end offsets minus committed offsets.
func TestLagEqualsProducedMinusCommitted(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "lag", 3, 300) // 100 per partition
	ctx := testContext(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: "lag", Partition: 0, At: 10, LeaderEpoch: -1})
	commit.Add(kadm.Offset{Topic: "lag", Partition: 1, At: 55, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "lagging", commit); err != nil {
		t.Fatal(err)
	}
	lags, err := adm.Lag(ctx, "lagging")
	if err != nil {
		t.Fatal(err)
	}
	gl := lags["lagging"]
	if gl.Error() != nil {
		t.Fatal(gl.Error())
	}
	want := map[int32]int64{0: 90, 1: 45, 2: 100}
	for p, w := range want {
		l, ok := gl.Lag["lag"][p]
		if !ok || l.Lag != w {
			t.Errorf("partition %d lag %+v, want %d", p, l, w)
		}
	}
	// The broker's own lag report (for the HTTP API) agrees.
	report, err := n.Broker().GroupLag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 1 || report[0].Group != "lagging" || report[0].TotalLag != 135 || len(report[0].Partitions) != 2 {
		t.Fatalf("GroupLag %+v, want group lagging with lag 90+45 on two committed partitions", report)
	}
	for _, p := range report[0].Partitions {
		if p.Lag != want[p.Partition] || p.LogEndOffset != 100 {
			t.Errorf("GroupLag partition %d: %+v", p.Partition, p)
		}
	}
}
