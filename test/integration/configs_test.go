package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// wantConfig is an expected config value and source.
type wantConfig struct {
	value  string
	source kmsg.ConfigSource
}

// checkTopicConfigs describes a topic's configs and compares the named
// ones with want.
func checkTopicConfigs(ctx context.Context, t *testing.T, adm *kadm.Client, topic, step string, want map[string]wantConfig) {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("%s: describe configs of %s: %v", step, topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("%s: describe configs of %s: %v", step, topic, err)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		got[c.Key] = c
	}
	for name, w := range want {
		c, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s not described", step, name)
		case c.MaybeValue() != w.value || c.Source != w.source:
			t.Errorf("%s: %s = %q (%v), want %q (%v)", step, name, c.MaybeValue(), c.Source, w.value, w.source)
		}
	}
}

// alterErr returns the first error of an alter call.
func alterErr(rs kadm.AlterConfigsResponses, err error) error {
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// TestConfigs creates a topic with configs and changes them with
// IncrementalAlterConfigs (SET, DELETE, APPEND, SUBTRACT) and AlterConfigs
// (which replaces the whole set), checking values and sources with
// DescribeConfigs after every step; invalid names and values are refused and
// validate-only calls change nothing.
func TestConfigs(t *testing.T) {
	nd := startNode(t, map[string]string{"log.index.interval.bytes": "8192"})
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	const topic = "configs"
	dynamic, dflt, static := kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDefaultConfig, kmsg.ConfigSourceStaticBrokerConfig

	createTopic(ctx, t, adm, topic, 2, map[string]*string{
		"retention.ms": ptr("86400000"), "cleanup.policy": ptr("delete"), "max.message.bytes": ptr("500000"),
	})
	checkTopicConfigs(ctx, t, adm, topic, "after create", map[string]wantConfig{
		"retention.ms":         {"86400000", dynamic},
		"cleanup.policy":       {"delete", dynamic},
		"max.message.bytes":    {"500000", dynamic},
		"segment.bytes":        {"1073741824", dflt},
		"compression.type":     {"producer", dflt},
		"index.interval.bytes": {"8192", static},
	})

	steps := []struct {
		name    string
		alter   func() (kadm.AlterConfigsResponses, error)
		wantErr *kerr.Error
		want    map[string]wantConfig
	}{
		{
			name: "incremental SET and DELETE",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
					{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")},
					{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
				}, topic)
			},
			want: map[string]wantConfig{
				"retention.ms": {"3600000", dynamic}, "max.message.bytes": {"1048588", dflt}, "cleanup.policy": {"delete", dynamic},
			},
		},
		{
			name: "incremental APPEND",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")}}, topic)
			},
			want: map[string]wantConfig{"cleanup.policy": {"delete,compact", dynamic}},
		},
		{
			name: "incremental SUBTRACT",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: ptr("delete")}}, topic)
			},
			want: map[string]wantConfig{"cleanup.policy": {"compact", dynamic}},
		},
		{
			name: "validate-only changes nothing",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("1000")}}, topic)
			},
			want: map[string]wantConfig{"retention.ms": {"3600000", dynamic}},
		},
		{
			name: "invalid value",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("soon")}}, topic)
			},
			wantErr: kerr.InvalidConfig,
			want:    map[string]wantConfig{"retention.ms": {"3600000", dynamic}},
		},
		{
			name: "unknown name",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "no.such.config", Value: ptr("1")}}, topic)
			},
			wantErr: kerr.InvalidConfig,
		},
		{
			name: "AlterConfigs replaces the whole set",
			alter: func() (kadm.AlterConfigsResponses, error) {
				return adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: ptr("600000")}}, topic)
			},
			want: map[string]wantConfig{
				"segment.ms": {"600000", dynamic}, "retention.ms": {"604800000", dflt}, "cleanup.policy": {"delete", dflt},
				"max.message.bytes": {"1048588", dflt},
			},
		},
	}
	for _, st := range steps {
		err := alterErr(st.alter())
		switch {
		case st.wantErr == nil && err != nil:
			t.Errorf("%s: %v", st.name, err)
		case st.wantErr != nil && !isKafkaErr(err, st.wantErr):
			t.Errorf("%s: error %v, want %v", st.name, err, st.wantErr)
		}
		checkTopicConfigs(ctx, t, adm, topic, st.name, st.want)
	}

	// Unknown topics and invalid creations.
	if err := alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("1")}}, "no-such-topic")); !isKafkaErr(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("alter configs of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	for _, bad := range []map[string]*string{{"retention.ms": ptr("x")}, {"no.such.config": ptr("1")}} {
		resp, err := adm.CreateTopic(ctx, 1, 1, bad, "configs-bad")
		if err == nil {
			err = resp.Err
		}
		if !isKafkaErr(err, kerr.InvalidConfig) {
			t.Errorf("create with configs %v: %v, want INVALID_CONFIG", keys(bad), err)
		}
	}
	vresp, err := adm.ValidateCreateTopics(ctx, 1, 1, map[string]*string{"retention.ms": ptr("5")}, "configs-validate-only")
	if err == nil {
		_, err = vresp.On("configs-validate-only", func(r *kadm.CreateTopicResponse) error { return r.Err })
	}
	if err != nil {
		t.Errorf("validate-only create: %v", err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"configs-bad", "configs-validate-only"} {
		if topics.Has(name) {
			t.Errorf("topic %s exists after a refused or validate-only create", name)
		}
	}

	// Broker configs: static (set at start) and defaults.
	brs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil || len(brs) != 1 || brs[0].Err != nil {
		t.Fatalf("describe broker configs: %v %v", err, brs)
	}
	for _, c := range brs[0].Configs {
		if c.Key == "log.index.interval.bytes" && (c.MaybeValue() != "8192" || c.Source != static) {
			t.Errorf("broker log.index.interval.bytes = %q (%v), want 8192 (STATIC_BROKER_CONFIG)", c.MaybeValue(), c.Source)
		}
		if c.Key == "num.partitions" && (c.MaybeValue() != "1" || c.Source != dflt) {
			t.Errorf("broker num.partitions = %q (%v), want 1 (DEFAULT_CONFIG)", c.MaybeValue(), c.Source)
		}
	}
}

func keys(m map[string]*string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// segmentFiles lists the .log files of a partition directory.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestRetentionChangeTakesEffect fills a topic with tiny segments of
// two-hour-old records and one fresh record: under the default retention
// (7 days) nothing is deleted; after retention.ms is set to one hour the old
// segments are deleted, the log start moves to the fresh record and a
// consumer from the start sees only it.
func TestRetentionChangeTakesEffect(t *testing.T) {
	nd := startNode(t, map[string]string{"log.retention.check.interval.ms": "50"})
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	const topic = "retention"
	createTopic(ctx, t, adm, topic, 1, map[string]*string{"segment.bytes": ptr("1024")})
	c := dialRaw(t, nd.addr)
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	const oldBatches = 30
	for i := range oldBatches {
		ts := []int64{int64(i * 10), int64(i*10 + 1), int64(i*10 + 2), int64(i*10 + 3), int64(i*10 + 4)}
		p, err := produceRaw(c, topic, 0, encodeTSBatch(tsBatch{ts: ts}, old))
		if err != nil || p.ErrorCode != 0 {
			t.Fatalf("produce old batch %d: %v %s", i, err, codeName(p.ErrorCode))
		}
	}
	// The fresh batch is nearly a segment on its own, so it starts the
	// active segment and every older segment is sealed.
	fb := batchtest.New(1, time.Now().UnixMilli())
	fb.Records[0].Value = bytes.Repeat([]byte("f"), 900)
	fresh, err := produceRaw(c, topic, 0, fb.Encode())
	if err != nil || fresh.ErrorCode != 0 {
		t.Fatalf("produce fresh batch: %v %s", err, codeName(fresh.ErrorCode))
	}
	dir := filepath.Join(nd.dataDir, topic+"-0")
	before := segmentFiles(t, dir)
	if len(before) < 3 {
		t.Fatalf("%d segments after %d batches with segment.bytes=1024, want several", len(before), oldBatches+1)
	}
	// Several retention passes (50 ms apart) under the default 7 days
	// must delete nothing.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 15 {
		if off, _ := listOffsetRaw(t, c, topic, 0, -2); off != 0 {
			t.Fatalf("log start %d under the default retention, want 0", off)
		}
		<-tick.C
	}

	if err := alterErr(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("3600000")}}, topic)); err != nil {
		t.Fatalf("set retention.ms: %v", err)
	}
	waitFor(t, "retention to delete the old segments", 20*time.Second, func() (bool, error) {
		off, _ := listOffsetRaw(t, c, topic, 0, -2)
		return off == fresh.BaseOffset, nil
	})
	after := segmentFiles(t, dir)
	if len(after) >= len(before) {
		t.Errorf("%d segment files after retention, %d before", len(after), len(before))
	}
	got, err := franzGoConsume(ctx, nd.addr, topic, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].offset != fresh.BaseOffset {
		t.Errorf("first record consumed from the start is at %d, want %d", got[0].offset, fresh.BaseOffset)
	}
	if p, err := fetchPartition(c, topic, 0, 0, 0); err != nil || p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at deleted offset 0: %v %s, want OFFSET_OUT_OF_RANGE", err, codeName(p.ErrorCode))
	}
}
