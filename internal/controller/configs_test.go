package controller

import (
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

const (
	opSet      = kmsg.IncrementalAlterConfigOpSet
	opDelete   = kmsg.IncrementalAlterConfigOpDelete
	opAppend   = kmsg.IncrementalAlterConfigOpAppend
	opSubtract = kmsg.IncrementalAlterConfigOpSubtract
)

func TestIncrementalAlterConfigs(t *testing.T) {
	topicRes := func(ops ...ConfigOp) IncrementalAlterConfigsResource {
		return IncrementalAlterConfigsResource{Type: metadata.ResourceTopic, Name: "t", Ops: ops}
	}
	for _, tc := range []struct {
		name    string
		res     IncrementalAlterConfigsResource
		want    *kerr.Error
		wantMsg string
		after   map[string]string // topic t's overrides afterwards (nil: unchanged)
	}{
		{name: "set", res: topicRes(ConfigOp{"segment.ms", opSet, str("1000")}),
			after: map[string]string{"retention.ms": "5000", "cleanup.policy": "delete", "segment.ms": "1000"}},
		{name: "delete", res: topicRes(ConfigOp{"retention.ms", opDelete, nil}),
			after: map[string]string{"cleanup.policy": "delete"}},
		{name: "delete absent", res: topicRes(ConfigOp{"segment.ms", opDelete, nil}),
			after: map[string]string{"retention.ms": "5000", "cleanup.policy": "delete"}},
		{name: "append", res: topicRes(ConfigOp{"cleanup.policy", opAppend, str("compact")}),
			after: map[string]string{"retention.ms": "5000", "cleanup.policy": "delete,compact"}},
		{name: "append present", res: topicRes(ConfigOp{"cleanup.policy", opAppend, str("delete")}),
			after: map[string]string{"retention.ms": "5000", "cleanup.policy": "delete"}},
		{name: "subtract to empty", res: topicRes(ConfigOp{"cleanup.policy", opSubtract, str("delete")}),
			want: kerr.InvalidConfig, wantMsg: "must not be empty"},
		{name: "append to non-list", res: topicRes(ConfigOp{"retention.ms", opAppend, str("1")}),
			want: kerr.InvalidConfig, wantMsg: "Can't APPEND to key retention.ms because its type is not LIST."},
		{name: "subtract non-list", res: topicRes(ConfigOp{"retention.ms", opSubtract, str("1")}),
			want: kerr.InvalidConfig, wantMsg: "Can't SUBTRACT"},
		{name: "append unknown", res: topicRes(ConfigOp{"nope", opAppend, str("1")}), want: kerr.InvalidConfig, wantMsg: "Unknown topic config name: nope"},
		{name: "set unknown", res: topicRes(ConfigOp{"nope", opSet, str("1")}), want: kerr.InvalidConfig, wantMsg: "Unknown topic config name: nope"},
		{name: "set invalid", res: topicRes(ConfigOp{"min.insync.replicas", opSet, str("0")}), want: kerr.InvalidConfig, wantMsg: "at least 1"},
		{name: "set null", res: topicRes(ConfigOp{"segment.ms", opSet, nil}), want: kerr.InvalidRequest, wantMsg: "Null value"},
		{name: "duplicate key", res: topicRes(ConfigOp{"segment.ms", opSet, str("1")}, ConfigOp{"segment.ms", opDelete, nil}),
			want: kerr.InvalidRequest, wantMsg: "duplicate config keys"},
		{name: "unknown op", res: topicRes(ConfigOp{"segment.ms", 9, str("1")}), want: kerr.InvalidRequest},
		{name: "cross-config conflict", res: topicRes(ConfigOp{"min.compaction.lag.ms", opSet, str("10")}, ConfigOp{"max.compaction.lag.ms", opSet, str("5")}),
			want: kerr.InvalidConfig, wantMsg: "conflict"},
		{name: "unknown topic", res: IncrementalAlterConfigsResource{Type: metadata.ResourceTopic, Name: "zz"}, want: kerr.UnknownTopicOrPartition},
		{name: "invalid topic name", res: IncrementalAlterConfigsResource{Type: metadata.ResourceTopic, Name: "a b"}, want: kerr.InvalidTopicException},
		{name: "unsupported type", res: IncrementalAlterConfigsResource{Type: 8, Name: "x"}, want: kerr.InvalidRequest},
		{name: "broker default", res: IncrementalAlterConfigsResource{Type: metadata.ResourceBroker, Name: "",
			Ops: []ConfigOp{{"log.retention.hours", opSet, str("24")}}}},
		{name: "broker by id", res: IncrementalAlterConfigsResource{Type: metadata.ResourceBroker, Name: "1",
			Ops: []ConfigOp{{"log.cleanup.policy", opAppend, str("compact")}}}},
		{name: "broker bad name", res: IncrementalAlterConfigsResource{Type: metadata.ResourceBroker, Name: "x"},
			want: kerr.InvalidRequest, wantMsg: "Invalid broker name x"},
		{name: "broker unknown config", res: IncrementalAlterConfigsResource{Type: metadata.ResourceBroker, Name: "",
			Ops: []ConfigOp{{"num.io.threads", opSet, str("8")}}}, want: kerr.InvalidConfig, wantMsg: "Unknown broker config name"},
		{name: "broker bad value", res: IncrementalAlterConfigsResource{Type: metadata.ResourceBroker, Name: "",
			Ops: []ConfigOp{{"log.segment.bytes", opSet, str("1")}}}, want: kerr.InvalidConfig, wantMsg: "at least 14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := newTestController(t, 1)
			cr := c.CreateTopics(ctx(), []TopicSpec{{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
				Configs: map[string]*string{"retention.ms": str("5000"), "cleanup.policy": str("delete")}}}, false)
			if cr[0].Err != nil {
				t.Fatal(cr[0].Err, cr[0].ErrMessage)
			}
			before := maps.Clone(m.image().TopicConfigs("t"))
			// validateOnly first: same verdict, no change.
			vo := c.IncrementalAlterConfigs(ctx(), []IncrementalAlterConfigsResource{tc.res}, true)
			checkErr(t, "validateOnly", vo[0].Err, vo[0].ErrMessage, tc.want, tc.wantMsg)
			if !maps.Equal(m.image().TopicConfigs("t"), before) {
				t.Fatal("validateOnly changed the configs")
			}
			res := c.IncrementalAlterConfigs(ctx(), []IncrementalAlterConfigsResource{tc.res}, false)
			if res[0].Type != tc.res.Type || res[0].Name != tc.res.Name {
				t.Fatalf("result names %+v", res[0])
			}
			checkErr(t, "IncrementalAlterConfigs", res[0].Err, res[0].ErrMessage, tc.want, tc.wantMsg)
			got := m.image().TopicConfigs("t")
			want := tc.after
			if want == nil {
				want = before
			}
			if !maps.Equal(got, want) {
				t.Fatalf("configs = %v, want %v", got, want)
			}
		})
	}
}

func TestBrokerConfigsStored(t *testing.T) {
	c, m := newTestController(t, 1)
	res := c.IncrementalAlterConfigs(ctx(), []IncrementalAlterConfigsResource{
		{Type: metadata.ResourceBroker, Name: "", Ops: []ConfigOp{{"log.retention.ms", opSet, str("1000")}}},
		{Type: metadata.ResourceBroker, Name: "1", Ops: []ConfigOp{{"log.cleanup.policy", opAppend, str("compact")}}},
	}, false)
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err, r.ErrMessage)
		}
	}
	img := m.image()
	if img.BrokerConfigs("")["log.retention.ms"] != "1000" || img.BrokerConfigs("1")["log.cleanup.policy"] != "delete,compact" {
		t.Fatalf("stored %v %v", img.BrokerConfigs(""), img.BrokerConfigs("1"))
	}
	// The cluster default now applies to new topics' resolved configs.
	cr := c.CreateTopics(ctx(), []TopicSpec{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, true)
	for _, v := range cr[0].Configs {
		if v.Name == "retention.ms" && v.Value != "1000" {
			t.Fatalf("retention.ms resolved to %q", v.Value)
		}
	}
}

func TestAlterConfigsLegacy(t *testing.T) {
	c, m := newTestController(t, 1)
	c.CreateTopics(ctx(), []TopicSpec{{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]*string{"retention.ms": str("5000"), "cleanup.policy": str("compact")}}}, false)
	c.CreateTopics(ctx(), []TopicSpec{{Name: "u", NumPartitions: 1, ReplicationFactor: 1}}, false)

	// Full replacement: cleanup.policy disappears.
	res := c.AlterConfigs(ctx(), []AlterConfigsResource{{Type: metadata.ResourceTopic, Name: "t",
		Configs: []ConfigEntry{{"retention.ms", str("7000")}, {"segment.ms", str("100")}}}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err, res[0].ErrMessage)
	}
	if got, want := m.image().TopicConfigs("t"), map[string]string{"retention.ms": "7000", "segment.ms": "100"}; !maps.Equal(got, want) {
		t.Fatalf("configs %v, want %v", got, want)
	}

	for _, tc := range []struct {
		name string
		res  []AlterConfigsResource
		want []*kerr.Error
	}{
		{"duplicate key", []AlterConfigsResource{{Type: metadata.ResourceTopic, Name: "t",
			Configs: []ConfigEntry{{"retention.ms", str("1")}, {"retention.ms", str("2")}}}}, []*kerr.Error{kerr.InvalidRequest}},
		{"null value", []AlterConfigsResource{{Type: metadata.ResourceTopic, Name: "t",
			Configs: []ConfigEntry{{"retention.ms", nil}}}}, []*kerr.Error{kerr.InvalidRequest}},
		{"bad value", []AlterConfigsResource{{Type: metadata.ResourceTopic, Name: "t",
			Configs: []ConfigEntry{{"retention.ms", str("-7")}}}}, []*kerr.Error{kerr.InvalidConfig}},
		{"duplicate resource", []AlterConfigsResource{{Type: metadata.ResourceTopic, Name: "u"}, {Type: metadata.ResourceTopic, Name: "u"}},
			[]*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest}},
		{"one bad one good", []AlterConfigsResource{
			{Type: metadata.ResourceTopic, Name: "missing"},
			{Type: metadata.ResourceTopic, Name: "u", Configs: []ConfigEntry{{"retention.ms", str("9")}}},
		}, []*kerr.Error{kerr.UnknownTopicOrPartition, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.AlterConfigs(ctx(), tc.res, false)
			for i, r := range res {
				if r.Err != tc.want[i] {
					t.Fatalf("resource %d: %v (%s), want %v", i, r.Err, r.ErrMessage, tc.want[i])
				}
			}
		})
	}
	if m.image().TopicConfigs("u")["retention.ms"] != "9" {
		t.Fatal("good resource next to a bad one not applied")
	}
	if got := m.image().TopicConfigs("t"); got["retention.ms"] != "7000" {
		t.Fatalf("refused changes applied: %v", got)
	}
}

func TestEffectiveTopicConfigs(t *testing.T) {
	c, m := newTestController(t, 1)
	c.CreateTopics(ctx(), []TopicSpec{{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]*string{"cleanup.policy": str("compact")}}}, false)
	m.apply(t, metadata.AlterConfigs{ResourceType: metadata.ResourceBroker, Name: "1", Set: map[string]string{"log.retention.ms": "1"}})
	m.apply(t, metadata.AlterConfigs{ResourceType: metadata.ResourceBroker, Name: "", Set: map[string]string{"log.retention.ms": "2", "log.segment.bytes": "3000"}})
	static := map[string]string{"log.segment.bytes": "4000", "log.roll.hours": "2"}
	vals, ok := EffectiveTopicConfigs(m.image(), "t", 1, static)
	if !ok {
		t.Fatal("topic not found")
	}
	want := map[string]struct {
		v string
		s kmsg.ConfigSource
	}{
		"cleanup.policy":    {"compact", kmsg.ConfigSourceDynamicTopicConfig},
		"retention.ms":      {"1", kmsg.ConfigSourceDynamicBrokerConfig},
		"segment.bytes":     {"3000", kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		"segment.ms":        {"7200000", kmsg.ConfigSourceStaticBrokerConfig},
		"max.message.bytes": {"1048588", kmsg.ConfigSourceDefaultConfig},
	}
	for _, v := range vals {
		if w, ok := want[v.Name]; ok && (v.Value != w.v || v.Source != w.s) {
			t.Errorf("%s = %q/%v, want %q/%v", v.Name, v.Value, v.Source, w.v, w.s)
		}
	}
	// On broker 2, its own dynamic config does not apply.
	vals, _ = EffectiveTopicConfigs(m.image(), "t", 2, static)
	for _, v := range vals {
		if v.Name == "retention.ms" && v.Value != "2" {
			t.Errorf("broker 2 retention.ms = %q, want 2", v.Value)
		}
	}
	if _, ok := EffectiveTopicConfigs(m.image(), "nope", 1, nil); ok {
		t.Fatal("found a missing topic")
	}
}
