package controller

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func TestCreateTopicsValidation(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name    string
		brokers int
		setup   []metadata.Record
		spec    TopicSpec
		want    *kerr.Error
		wantMsg string
	}{
		{name: "ok", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 3, ReplicationFactor: 1}},
		{name: "defaults", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1}},
		{name: "empty name", brokers: 1, spec: TopicSpec{Name: "", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException, wantMsg: "can't be empty"},
		{name: "dot", brokers: 1, spec: TopicSpec{Name: ".", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException, wantMsg: `cannot be "." or ".."`},
		{name: "dotdot", brokers: 1, spec: TopicSpec{Name: "..", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException},
		{name: "too long", brokers: 1, spec: TopicSpec{Name: long, NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException, wantMsg: "longer than 249"},
		{name: "bad char", brokers: 1, spec: TopicSpec{Name: "a b", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException, wantMsg: "ASCII alphanumerics"},
		{name: "exists", brokers: 1, setup: []metadata.Record{topicRec("a", 1)},
			spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.TopicAlreadyExists, wantMsg: "Topic 'a' already exists."},
		{name: "collides", brokers: 1, setup: []metadata.Record{topicRec("a.b", 1)},
			spec: TopicSpec{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1},
			want: kerr.InvalidTopicException, wantMsg: "Topic 'a_b' collides with existing topic: a.b"},
		{name: "zero partitions", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 0, ReplicationFactor: 1},
			want: kerr.InvalidPartitions, wantMsg: "invalid non-positive value"},
		{name: "negative partitions", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: -5, ReplicationFactor: 1},
			want: kerr.InvalidPartitions},
		{name: "huge partitions", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: metadata.MaxPartitionsPerTopic + 1, ReplicationFactor: 1},
			want: kerr.InvalidPartitions, wantMsg: "exceeds the limit of 100000"},
		{name: "zero rf", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 0},
			want: kerr.InvalidReplicationFactor, wantMsg: "larger than 0"},
		{name: "negative rf", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: -2},
			want: kerr.InvalidReplicationFactor},
		{name: "rf above brokers", brokers: 2, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 3},
			want: kerr.InvalidReplicationFactor, wantMsg: "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered"},
		{name: "no brokers", brokers: 0, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: -1},
			want: kerr.InvalidReplicationFactor},
		{name: "unknown config", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"nope": str("1")}}, want: kerr.InvalidConfig, wantMsg: "Unknown topic config name: nope"},
		{name: "bad config value", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"retention.ms": str("soon")}}, want: kerr.InvalidConfig, wantMsg: "retention.ms"},
		{name: "null config", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"retention.ms": nil, "cleanup.policy": nil}}, want: kerr.InvalidConfig,
			wantMsg: "Null value not supported for topic configs: cleanup.policy,retention.ms"},
		{name: "conflicting configs", brokers: 1, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"min.compaction.lag.ms": str("10"), "max.compaction.lag.ms": str("5")}},
			want: kerr.InvalidConfig, wantMsg: "conflict"},
		{name: "manual ok", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1, 2}}, {1, []int32{3, 1}}}}},
		{name: "manual with rf", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: 2,
			Assignments: []PartitionReplicas{{0, []int32{1, 2}}}}, want: kerr.InvalidRequest, wantMsg: "replication factor was not set to -1"},
		{name: "manual with count", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1, 2}}}}, want: kerr.InvalidRequest, wantMsg: "numPartitions was not set to -1"},
		{name: "manual duplicate replica", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{2, 2}}}}, want: kerr.InvalidReplicaAssignment,
			wantMsg: "The manual partition assignment includes the broker 2 more than once."},
		{name: "manual duplicate partition", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1}}, {0, []int32{2}}}}, want: kerr.InvalidReplicaAssignment,
			wantMsg: "Found multiple manual partition assignments for partition 0"},
		{name: "manual unknown broker", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1, 9}}}}, want: kerr.InvalidReplicaAssignment,
			wantMsg: "includes broker 9, but no such broker is registered"},
		{name: "manual empty", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, nil}}}, want: kerr.InvalidReplicaAssignment, wantMsg: "empty replica list"},
		{name: "manual uneven rf", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1, 2}}, {1, []int32{3}}}}, want: kerr.InvalidReplicaAssignment,
			wantMsg: "a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)"},
		{name: "manual gap", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{0, []int32{1}}, {2, []int32{2}}}}, want: kerr.InvalidReplicaAssignment,
			wantMsg: "consecutive 0-based"},
		{name: "manual negative partition", brokers: 3, spec: TopicSpec{Name: "a", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []PartitionReplicas{{-1, []int32{1}}}}, want: kerr.InvalidReplicaAssignment, wantMsg: "consecutive 0-based"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := newTestController(t, tc.brokers)
			for _, r := range tc.setup {
				m.apply(t, r)
			}
			before := m.proposals
			res := c.CreateTopics(ctx(), []TopicSpec{tc.spec}, false)
			if len(res) != 1 || res[0].Name != tc.spec.Name {
				t.Fatalf("results = %+v", res)
			}
			checkErr(t, "CreateTopics", res[0].Err, res[0].ErrMessage, tc.want, tc.wantMsg)
			_, created := m.image().Topic(tc.spec.Name)
			if tc.want == nil {
				if !created || res[0].TopicID.IsZero() {
					t.Fatal("topic not created")
				}
				if m.proposals != before+1 {
					t.Fatalf("%d proposals, want 1", m.proposals-before)
				}
			} else if m.proposals != before {
				t.Fatal("a refused topic was proposed")
			}
		})
	}
}

func topicRec(name string, id byte) metadata.CreateTopic {
	return metadata.CreateTopic{Name: name, TopicID: metadata.TopicID{id, 0x40}, Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
	}}
}

func TestCreateTopicsResults(t *testing.T) {
	c, m := newTestController(t, 3, func(cfg *Config) {
		cfg.DefaultNumPartitions = 6
		cfg.DefaultReplicationFactor = 3
		cfg.StaticBrokerConfig = func() map[string]string { return map[string]string{"log.retention.hours": "1"} }
	})
	m.apply(t, metadata.AlterConfigs{ResourceType: metadata.ResourceBroker, Name: "", Set: map[string]string{"log.segment.bytes": "2000000"}})
	res := c.CreateTopics(ctx(), []TopicSpec{{
		Name: "orders", NumPartitions: -1, ReplicationFactor: -1,
		Configs: map[string]*string{"cleanup.policy": str("compact")},
	}}, false)
	r := res[0]
	if r.Err != nil {
		t.Fatal(r.Err, r.ErrMessage)
	}
	if r.NumPartitions != 6 || r.ReplicationFactor != 3 {
		t.Fatalf("partitions %d rf %d", r.NumPartitions, r.ReplicationFactor)
	}
	want := map[string]struct {
		value  string
		source kmsg.ConfigSource
	}{
		"cleanup.policy":   {"compact", kmsg.ConfigSourceDynamicTopicConfig},
		"retention.ms":     {"3600000", kmsg.ConfigSourceStaticBrokerConfig},
		"segment.bytes":    {"2000000", kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		"compression.type": {"producer", kmsg.ConfigSourceDefaultConfig},
	}
	for _, v := range r.Configs {
		if w, ok := want[v.Name]; ok && (v.Value != w.value || v.Source != w.source) {
			t.Errorf("%s = %q from %v, want %q from %v", v.Name, v.Value, v.Source, w.value, w.source)
		}
	}
	tp, ok := m.image().Topic("orders")
	if !ok || tp.ID != r.TopicID || tp.Configs["cleanup.policy"] != "compact" || len(tp.Configs) != 1 {
		t.Fatalf("stored topic %+v", tp)
	}
	for _, p := range tp.Partitions {
		if len(p.Replicas) != 3 || p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) || p.LeaderEpoch != 0 {
			t.Fatalf("partition %+v", p)
		}
	}
}

func TestCreateTopicsBatch(t *testing.T) {
	c, m := newTestController(t, 1, func(cfg *Config) { cfg.MaxPartitionsPerRequest = 10 })
	res := c.CreateTopics(ctx(), []TopicSpec{
		{Name: "a", NumPartitions: 4, ReplicationFactor: 1},
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "x.y", NumPartitions: 4, ReplicationFactor: 1},
		{Name: "x_y", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "big", NumPartitions: 3, ReplicationFactor: 1}, // 4+4+3 > 10
		{Name: "small", NumPartitions: 2, ReplicationFactor: 1},
	}, false)
	wantErr := []*kerr.Error{nil, kerr.InvalidRequest, nil, kerr.InvalidTopicException, kerr.InvalidRequest, kerr.InvalidPartitions, nil}
	for i, r := range res {
		if r.Err != wantErr[i] {
			t.Errorf("%s: %v (%s), want %v", r.Name, r.Err, r.ErrMessage, wantErr[i])
		}
	}
	if m.proposals != 3 { // 1 broker registration + unfence + 1 batch
		t.Fatalf("%d proposals, want one batch", m.proposals-2)
	}
	if got := m.image().TopicCount(); got != 3 {
		t.Fatalf("%d topics, want 3", got)
	}
	if res[0].TopicID == res[2].TopicID {
		t.Fatal("two topics got the same id")
	}
}

func TestCreateTopicsValidateOnly(t *testing.T) {
	c, m := newTestController(t, 1)
	res := c.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 2, ReplicationFactor: 1}}, true)
	if res[0].Err != nil || res[0].NumPartitions != 2 || len(res[0].Configs) == 0 {
		t.Fatalf("result %+v", res[0])
	}
	if m.image().TopicCount() != 0 || m.proposals != 2 {
		t.Fatal("validateOnly created something")
	}
}

func TestCreateTopicsDeterministicIDs(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 64)
	c, _ := newTestController(t, 1, func(cfg *Config) { cfg.Rand = bytes.NewReader(seed) })
	res := c.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, true)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	want := metadata.TopicID{7, 7, 7, 7, 7, 7, 0x47, 7, 0x87, 7, 7, 7, 7, 7, 7, 7}
	if res[0].TopicID != want {
		t.Fatalf("id %v, want %v", res[0].TopicID, want)
	}
	// An exhausted random source is an error, not a zero id.
	c2, _ := newTestController(t, 1, func(cfg *Config) { cfg.Rand = bytes.NewReader(nil) })
	if r := c2.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false); r[0].Err != kerr.UnknownServerError {
		t.Fatalf("err %v", r[0].Err)
	}
}

func TestControllerErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leaderErr  error
		proposeErr error
		want       *kerr.Error
	}{
		{"not controller", metadata.ErrNotController, nil, kerr.NotController},
		{"closed", metadata.ErrClosed, nil, kerr.NotController},
		{"propose lost leadership", nil, metadata.ErrNotController, kerr.NotController},
		{"propose timeout", nil, metadata.ErrTimeout, kerr.RequestTimedOut},
		{"propose race", nil, metadata.ErrTopicExists, kerr.TopicAlreadyExists},
		{"other", nil, errString("disk on fire"), kerr.UnknownServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := newTestController(t, 1)
			m.apply(t, topicRec("old", 1))
			m.leaderErr, m.proposeErr = tc.leaderErr, tc.proposeErr
			ct := c.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false)
			checkErr(t, "CreateTopics", ct[0].Err, ct[0].ErrMessage, tc.want, "")
			if !ct[0].TopicID.IsZero() || ct[0].Configs != nil {
				t.Fatal("failed result carries data")
			}
			dt := c.DeleteTopics(ctx(), []TopicRef{{Name: "old"}})
			if tc.want != kerr.TopicAlreadyExists {
				checkErr(t, "DeleteTopics", dt[0].Err, dt[0].ErrMessage, tc.want, "")
			}
			cp := c.CreatePartitions(ctx(), []PartitionsSpec{{Topic: "old", Count: 2}}, false)
			if tc.want != kerr.TopicAlreadyExists {
				checkErr(t, "CreatePartitions", cp[0].Err, cp[0].ErrMessage, tc.want, "")
			}
			ac := c.IncrementalAlterConfigs(ctx(), []IncrementalAlterConfigsResource{{Type: metadata.ResourceTopic, Name: "old",
				Ops: []ConfigOp{{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpSet, Value: str("1")}}}}, false)
			if tc.want != kerr.TopicAlreadyExists {
				checkErr(t, "IncrementalAlterConfigs", ac[0].Err, ac[0].ErrMessage, tc.want, "")
			}
			if _, _, err := c.AllocateProducerIDBlock(ctx(), 1, -1); err == nil {
				t.Fatal("AllocateProducerIDBlock succeeded")
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestDeleteTopics(t *testing.T) {
	c, m := newTestController(t, 1)
	m.apply(t, topicRec("a", 1))
	m.apply(t, topicRec("b", 2))
	m.apply(t, topicRec("c", 3))
	m.apply(t, topicRec("d", 4))
	idB := metadata.TopicID{2, 0x40}
	res := c.DeleteTopics(ctx(), []TopicRef{
		{Name: "a"},
		{ID: idB},
		{Name: "missing"},
		{ID: metadata.TopicID{99}},
		{},
		{Name: "c", ID: metadata.TopicID{3, 0x40}},
		{Name: "d"}, {Name: "d"},
	})
	want := []*kerr.Error{nil, nil, kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.InvalidRequest,
		kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidRequest}
	for i, r := range res {
		if r.Err != want[i] {
			t.Errorf("result %d (%s): %v %q, want %v", i, r.Name, r.Err, r.ErrMessage, want[i])
		}
	}
	if res[1].Name != "b" || res[0].ID != (metadata.TopicID{1, 0x40}) {
		t.Fatalf("names/ids not filled: %+v %+v", res[0], res[1])
	}
	img := m.image()
	if _, ok := img.Topic("a"); ok {
		t.Fatal("a not deleted")
	}
	if _, ok := img.Topic("b"); ok {
		t.Fatal("b not deleted")
	}
	if img.TopicCount() != 2 {
		t.Fatalf("%d topics left, want 2 (c, d)", img.TopicCount())
	}
	// Same topic by name and by id in one request.
	res = c.DeleteTopics(ctx(), []TopicRef{{Name: "c"}, {ID: metadata.TopicID{3, 0x40}}})
	if res[0].Err != nil || res[1].Err != kerr.InvalidRequest {
		t.Fatalf("results %+v", res)
	}
	// A deleted name can be created again, with a new id.
	cr := c.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}}, false)
	if cr[0].Err != nil || cr[0].TopicID == (metadata.TopicID{1, 0x40}) {
		t.Fatalf("recreate: %+v", cr[0])
	}
}

func TestCreatePartitions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    PartitionsSpec
		want    *kerr.Error
		wantMsg string
		count   int
	}{
		{name: "grow", spec: PartitionsSpec{Topic: "t", Count: 5}, count: 5},
		{name: "manual", spec: PartitionsSpec{Topic: "t", Count: 3, Assignments: [][]int32{{3, 1}}}, count: 3},
		{name: "unknown", spec: PartitionsSpec{Topic: "nope", Count: 3}, want: kerr.UnknownTopicOrPartition},
		{name: "same", spec: PartitionsSpec{Topic: "t", Count: 2}, want: kerr.InvalidPartitions, wantMsg: "Topic already has 2 partition(s)."},
		{name: "shrink", spec: PartitionsSpec{Topic: "t", Count: 1}, want: kerr.InvalidPartitions,
			wantMsg: "The topic t currently has 2 partition(s); 1 would not be an increase."},
		{name: "huge", spec: PartitionsSpec{Topic: "t", Count: metadata.MaxPartitionsPerTopic + 1}, want: kerr.InvalidPartitions},
		{name: "over request budget", spec: PartitionsSpec{Topic: "t", Count: 200}, want: kerr.InvalidPartitions, wantMsg: "per request"},
		{name: "wrong assignment count", spec: PartitionsSpec{Topic: "t", Count: 4, Assignments: [][]int32{{1, 2}}},
			want: kerr.InvalidReplicaAssignment, wantMsg: "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."},
		{name: "assignment rf mismatch", spec: PartitionsSpec{Topic: "t", Count: 3, Assignments: [][]int32{{1}}},
			want: kerr.InvalidReplicaAssignment, wantMsg: "which have 2 replica(s)"},
		{name: "assignment dup", spec: PartitionsSpec{Topic: "t", Count: 3, Assignments: [][]int32{{1, 1}}},
			want: kerr.InvalidReplicaAssignment, wantMsg: "more than once"},
		{name: "assignment unknown broker", spec: PartitionsSpec{Topic: "t", Count: 3, Assignments: [][]int32{{1, 7}}},
			want: kerr.InvalidReplicaAssignment, wantMsg: "no such broker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := newTestController(t, 3, func(cfg *Config) { cfg.MaxPartitionsPerRequest = 100 })
			if r := c.CreateTopics(ctx(), []TopicSpec{{Name: "t", NumPartitions: 2, ReplicationFactor: 2}}, false); r[0].Err != nil {
				t.Fatal(r[0].Err)
			}
			res := c.CreatePartitions(ctx(), []PartitionsSpec{tc.spec}, false)
			checkErr(t, "CreatePartitions", res[0].Err, res[0].ErrMessage, tc.want, tc.wantMsg)
			tp, _ := m.image().Topic("t")
			if tc.want == nil {
				if len(tp.Partitions) != tc.count {
					t.Fatalf("%d partitions, want %d", len(tp.Partitions), tc.count)
				}
				for _, p := range tp.Partitions {
					if len(p.Replicas) != 2 {
						t.Fatalf("partition %d has rf %d", p.Partition, len(p.Replicas))
					}
				}
			} else if len(tp.Partitions) != 2 {
				t.Fatal("refused request changed the topic")
			}
		})
	}
}

func TestCreatePartitionsBatchAndValidateOnly(t *testing.T) {
	c, m := newTestController(t, 1)
	c.CreateTopics(ctx(), []TopicSpec{{Name: "a", NumPartitions: 1, ReplicationFactor: 1}, {Name: "b", NumPartitions: 1, ReplicationFactor: 1}}, false)
	res := c.CreatePartitions(ctx(), []PartitionsSpec{{Topic: "a", Count: 3}, {Topic: "b", Count: 2}}, true)
	if res[0].Err != nil || res[1].Err != nil {
		t.Fatal(res)
	}
	if tp, _ := m.image().Topic("a"); len(tp.Partitions) != 1 {
		t.Fatal("validateOnly grew the topic")
	}
	res = c.CreatePartitions(ctx(), []PartitionsSpec{{Topic: "a", Count: 3}, {Topic: "a", Count: 4}, {Topic: "b", Count: 2}}, false)
	if res[0].Err != kerr.InvalidRequest || res[1].Err != kerr.InvalidRequest || res[2].Err != nil {
		t.Fatalf("results %+v", res)
	}
	if tp, _ := m.image().Topic("b"); len(tp.Partitions) != 2 {
		t.Fatal("b not grown")
	}
}
