package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// node is a samsa node under test: its Kafka address and data directory.
type node struct {
	addr    string
	dataDir string
}

// startNode starts an in-process node with the given extra properties; it
// stops when the test ends.
func startNode(t *testing.T, set map[string]string) node {
	t.Helper()
	dir := t.TempDir()
	n := testserver.Start(t, testserver.Options{DataDir: dir, Set: set})
	return node{addr: n.KafkaAddr(), dataDir: dir}
}

// testContext returns a context that ends after d or when the test ends.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client of addr, closed when the test ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("integration"),
		kgo.RetryTimeout(20 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new franz-go client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns an admin client of addr, closed when the test ends.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr))
}

// createTopic creates a topic and fails the test unless it succeeds.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, name string, partitions int32, configs map[string]*string) kadm.CreateTopicResponse {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return resp
}

// describeTopic returns the metadata of one topic.
func describeTopic(ctx context.Context, t *testing.T, adm *kadm.Client, name string) kadm.TopicDetail {
	t.Helper()
	topics, err := adm.ListTopics(ctx, name)
	if err != nil {
		t.Fatalf("metadata of %s: %v", name, err)
	}
	d, ok := topics[name]
	if !ok || d.Err != nil {
		t.Fatalf("metadata of %s: present=%v err=%v", name, ok, d.Err)
	}
	return d
}

// waitFor polls cond until it reports done, fails with an error, or timeout
// passes; the test fails in the last two cases. Polls are 20 ms apart.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := cond()
		if done && err == nil {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
		}
		<-tick.C
	}
}

// isKafkaErr reports whether err is (or wraps) the Kafka error want.
func isKafkaErr(err error, want *kerr.Error) bool {
	var ke *kerr.Error
	return errors.As(err, &ke) && ke.Code == want.Code
}

// codeName renders a Kafka error code with its name.
func codeName(code int16) string {
	if err := kerr.ErrorForCode(code); err != nil {
		return fmt.Sprintf("%d (%v)", code, err)
	}
	return "0 (none)"
}

// listOffsets asks for one timestamp (or -1 latest, -2 earliest, -3 max
// timestamp) on every partition of a topic; the result maps partition to
// offset and timestamp.
func listOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, ts int64) map[int32][2]int64 {
	t.Helper()
	var (
		res kadm.ListedOffsets
		err error
	)
	switch ts {
	case -1:
		res, err = adm.ListEndOffsets(ctx, topic)
	case -2:
		res, err = adm.ListStartOffsets(ctx, topic)
	case -3:
		res, err = adm.ListMaxTimestampOffsets(ctx, topic)
	default:
		res, err = adm.ListOffsetsAfterMilli(ctx, ts, topic)
	}
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("list offsets of %s at %d: %v", topic, ts, err)
	}
	out := map[int32][2]int64{}
	res.Each(func(o kadm.ListedOffset) { out[o.Partition] = [2]int64{o.Offset, o.Timestamp} })
	return out
}
