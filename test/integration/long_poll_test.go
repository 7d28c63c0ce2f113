package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchLongPollWakesOnProduce produces one record at a time and waits
// for a franz-go consumer (default fetch max wait: 5 s) to receive it. The
// consumer always has a fetch parked on the broker; each produce must wake
// it, so every round trip takes milliseconds, never the fetch max wait.
func TestFetchLongPollWakesOnProduce(t *testing.T) {
	const rounds, slow = 50, time.Second
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	const topic = "long-poll"
	createTopic(ctx, t, newAdmin(t, nd.addr), topic, 1, nil)
	cl := newClient(t, nd.addr, kgo.DefaultProduceTopic(topic),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	var worst time.Duration
	for i := range rounds {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := cl.ProduceSync(rctx, &kgo.Record{Value: []byte("ping")}).FirstErr()
		produced := time.Since(start)
		var got int
		if err == nil {
			fs := cl.PollRecords(rctx, 1)
			err, got = fs.Err0(), fs.NumRecords()
		}
		cancel()
		if err != nil || got != 1 {
			t.Fatalf("round %d: %d records, err %v", i, got, err)
		}
		d := time.Since(start)
		worst = max(worst, d)
		if d > slow {
			t.Fatalf("round %d: the record reached the consumer %v after it was produced (produce took %v): "+
				"the parked fetch was not woken by the produce and waited for its max wait", i, d, produced)
		}
	}
	t.Logf("%d rounds, slowest produce-to-consume %v", rounds, worst)
}
