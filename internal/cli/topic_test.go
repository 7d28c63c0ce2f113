package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestTopicLifecycle(t *testing.T) {
	brokers := testBrokers(t)
	a, b := topicName(t, "a"), topicName(t, "b")

	out := mustSamsa(t, brokers, "", "topic", "create", a, b, "-p", "3", "-r", "1", "-c", "retention.ms=100000")
	rows := tableRows(t, out)
	if len(rows) != 2 || rows[0]["TOPIC"] != a || rows[0]["STATUS"] != "OK" || rows[1]["TOPIC"] != b || rows[1]["STATUS"] != "OK" {
		t.Fatalf("create output:\n%s", out)
	}

	// Creating again fails per topic, with Kafka's error name, and exits non-zero.
	r := mustFail(t, brokers, "", "topic", "create", a, "-p", "3")
	if !strings.Contains(r.stdout, "TOPIC_ALREADY_EXISTS") || !strings.Contains(r.err.Error(), "1 of 1 topics failed") {
		t.Fatalf("re-create: err=%v stdout:\n%s", r.err, r.stdout)
	}

	// --dry-run validates without creating.
	dry := topicName(t, "dry")
	out = mustSamsa(t, brokers, "", "topic", "create", dry, "-p", "2", "--dry-run")
	if rows := tableRows(t, out); rows[0]["STATUS"] != "OK" {
		t.Fatalf("dry-run create:\n%s", out)
	}

	// list: text and json.
	out = mustSamsa(t, brokers, "", "topic", "list")
	found := map[string]map[string]string{}
	for _, row := range tableRows(t, out) {
		found[row["TOPIC"]] = row
	}
	if found[a]["PARTITIONS"] != "3" || found[a]["REPLICAS"] != "1" || found[b] == nil {
		t.Fatalf("list is missing the topics:\n%s", out)
	}
	if found[dry] != nil {
		t.Fatalf("dry-run created %s:\n%s", dry, out)
	}
	var listed []struct {
		Topic      string `json:"topic"`
		Partitions int    `json:"partitions"`
		Replicas   int    `json:"replicas"`
		Internal   bool   `json:"internal"`
	}
	decodeJSON(t, mustSamsa(t, brokers, "", "topic", "list", "--format", "json"), &listed)
	if !slices.ContainsFunc(listed, func(l struct {
		Topic      string `json:"topic"`
		Partitions int    `json:"partitions"`
		Replicas   int    `json:"replicas"`
		Internal   bool   `json:"internal"`
	}) bool {
		return l.Topic == a && l.Partitions == 3 && l.Replicas == 1
	}) {
		t.Fatalf("json list lacks %s: %+v", a, listed)
	}

	// describe: summary, configs and partitions.
	out = mustSamsa(t, brokers, "", "topic", "describe", a, "-c")
	sum := section(t, out, "SUMMARY")
	for _, want := range []string{"NAME", a, "PARTITIONS  3", "REPLICAS    1", "ID"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("summary lacks %q:\n%s", want, out)
		}
	}
	cfgs := tableRows(t, section(t, out, "CONFIGS"))
	if !slices.ContainsFunc(cfgs, func(r map[string]string) bool {
		return r["KEY"] == "retention.ms" && r["VALUE"] == "100000" && r["SOURCE"] == "DYNAMIC_TOPIC_CONFIG"
	}) {
		t.Fatalf("configs lack retention.ms:\n%s", out)
	}
	parts := tableRows(t, section(t, out, "PARTITIONS"))
	if len(parts) != 3 {
		t.Fatalf("want 3 partition rows:\n%s", out)
	}
	for i, p := range parts {
		if p["PARTITION"] != itoa(i) || p["LOG-START-OFFSET"] != "0" || p["HIGH-WATERMARK"] != "0" ||
			!strings.HasPrefix(p["REPLICAS"], "[") || p["ISR"] == "" || p["LEADER"] == "" || p["EPOCH"] == "" {
			t.Fatalf("partition row %d: %v\n%s", i, p, out)
		}
	}

	// alter-config, checked through describe --format json.
	out = mustSamsa(t, brokers, "", "topic", "alter-config", a, "--set", "retention.ms=200000", "--set", "cleanup.policy=compact")
	if rows := tableRows(t, out); rows[0]["STATUS"] != "OK" {
		t.Fatalf("alter-config:\n%s", out)
	}
	if got := describedConfigs(t, brokers, a); got["retention.ms"] != "200000" || got["cleanup.policy"] != "compact" {
		t.Fatalf("after --set: %v", got)
	}
	mustSamsa(t, brokers, "", "topic", "alter-config", a, "--delete", "retention.ms")
	if got := describedConfigs(t, brokers, a); got["retention.ms"] != "" || got["cleanup.policy"] != "compact" {
		t.Fatalf("after --delete: %v", got)
	}

	// add-partitions sets the total; shrinking fails.
	mustSamsa(t, brokers, "", "topic", "add-partitions", a, "--num", "5")
	var desc []struct {
		Summary struct {
			Name       string `json:"name"`
			ID         string `json:"id"`
			Partitions int    `json:"partitions"`
		} `json:"summary"`
		Partitions []struct {
			Partition     int32   `json:"partition"`
			Replicas      []int32 `json:"replicas"`
			HighWatermark int64   `json:"high_watermark"`
		} `json:"partitions"`
	}
	decodeJSON(t, mustSamsa(t, brokers, "", "topic", "describe", a, "--format", "json"), &desc)
	if len(desc) != 1 || desc[0].Summary.Partitions != 5 || len(desc[0].Partitions) != 5 || desc[0].Summary.ID == "" {
		t.Fatalf("after add-partitions: %+v", desc)
	}
	r = mustFail(t, brokers, "", "topic", "add-partitions", a, "--num", "2")
	if !strings.Contains(r.stdout, "INVALID_PARTITIONS") {
		t.Fatalf("shrink: err=%v stdout:\n%s", r.err, r.stdout)
	}

	// YAML carries the same keys as JSON.
	var y []map[string]any
	if err := yaml.Unmarshal([]byte(mustSamsa(t, brokers, "", "topic", "describe", a, "--format", "yaml")), &y); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if sum, _ := y[0]["summary"].(map[string]any); sum["name"] != a || sum["partitions"] != 5 {
		t.Fatalf("yaml describe: %v", y)
	}

	// delete, then everything about the topic fails clearly.
	out = mustSamsa(t, brokers, "", "topic", "delete", a, b)
	if rows := tableRows(t, out); len(rows) != 2 || rows[0]["STATUS"] != "OK" || rows[1]["STATUS"] != "OK" {
		t.Fatalf("delete:\n%s", out)
	}
	waitFor(t, "topic to disappear", func() bool {
		return !strings.Contains(mustSamsa(t, brokers, "", "topic", "list"), a)
	})
	r = mustFail(t, brokers, "", "topic", "describe", a)
	if !strings.Contains(r.err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") || !strings.Contains(r.err.Error(), a) {
		t.Fatalf("describe deleted topic: %v", r.err)
	}
	r = mustFail(t, brokers, "", "topic", "delete", a)
	if !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("delete deleted topic: %v\n%s", r.err, r.stdout)
	}
}

func TestTopicFlagErrors(t *testing.T) {
	// None of these reach a broker: the address is unroutable on purpose.
	const nowhere = "127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"create without name", []string{"topic", "create"}, "requires at least 1 arg"},
		{"bad config", []string{"topic", "create", "x", "-c", "nokey"}, "want key=value"},
		{"duplicate config", []string{"topic", "create", "x", "-c", "a=1", "-c", "a=2"}, "given twice"},
		{"zero partitions", []string{"topic", "create", "x", "-p", "0"}, "--partitions must be positive"},
		{"alter nothing", []string{"topic", "alter-config", "x"}, "nothing to change"},
		{"alter set and delete", []string{"topic", "alter-config", "x", "--set", "a=1", "--delete", "a"}, "given to both"},
		{"add-partitions without num", []string{"topic", "add-partitions", "x"}, "--num"},
		{"unknown flag", []string{"topic", "list", "--bogus"}, "unknown flag: --bogus"},
		{"bad format", []string{"topic", "list", "--format", "xml"}, "unknown format"},
		{"bad broker", []string{"topic", "list", "--brokers", "host:port"}, "bad broker address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := nowhere
			if slices.Contains(tc.args, "--brokers") {
				brokers = ""
			}
			r := mustFail(t, brokers, "", tc.args...)
			if !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", r.err, tc.want)
			}
		})
	}
}

func TestUnreachableBrokerFails(t *testing.T) {
	r := mustFail(t, "127.0.0.1:1", "", "topic", "list", "--request-timeout", "1s", "--dial-timeout", "200ms")
	if !strings.Contains(r.err.Error(), "list topics") {
		t.Fatalf("error: %v", r.err)
	}
}

// describedConfigs returns the topic's own config overrides (source
// DYNAMIC_TOPIC_CONFIG) by key, as `describe -c --format json` lists them.
func describedConfigs(t *testing.T, brokers, topic string) map[string]string {
	t.Helper()
	var desc []struct {
		Configs []struct {
			Key    string  `json:"key"`
			Value  *string `json:"value"`
			Source string  `json:"source"`
		} `json:"configs"`
	}
	decodeJSON(t, mustSamsa(t, brokers, "", "topic", "describe", topic, "-c", "--format", "json"), &desc)
	got := map[string]string{}
	for _, c := range desc[0].Configs {
		if c.Value != nil && c.Source == "DYNAMIC_TOPIC_CONFIG" {
			got[c.Key] = *c.Value
		}
	}
	return got
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode json: %v\n%s", err, s)
	}
}
