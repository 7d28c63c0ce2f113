package topicconfig

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCatalogNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	brokers := map[string]string{}
	for _, e := range catalog {
		if seen[e.Name] {
			t.Errorf("duplicate entry %s", e.Name)
		}
		seen[e.Name] = true
		for _, s := range e.BrokerSynonyms {
			if other, ok := brokers[s.Name]; ok {
				t.Errorf("broker property %s maps to %s and %s", s.Name, other, e.Name)
			}
			brokers[s.Name] = e.Name
		}
		if e.Doc == "" {
			t.Errorf("%s has no doc", e.Name)
		}
	}
}

// Every default must pass its own validator.
func TestDefaultsValid(t *testing.T) {
	for _, e := range All() {
		if err := Validate(e.Name, e.Default); err != nil {
			t.Errorf("%s default %q: %v", e.Name, e.Default, err)
		}
	}
}

func TestRequiredConfigsPresent(t *testing.T) {
	for _, n := range []string{
		"cleanup.policy", "compression.type", "retention.ms", "retention.bytes", "segment.bytes", "segment.ms",
		"segment.index.bytes", "index.interval.bytes", "max.message.bytes", "message.timestamp.type",
		"min.insync.replicas", "flush.messages", "flush.ms", "delete.retention.ms", "min.compaction.lag.ms",
		"max.compaction.lag.ms", "min.cleanable.dirty.ratio", "unclean.leader.election.enable",
		"message.timestamp.difference.max.ms", "message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
		"file.delete.delay.ms", "preallocate", "local.retention.ms", "local.retention.bytes", "remote.storage.enable",
	} {
		if _, ok := Lookup(n); !ok {
			t.Errorf("missing %s", n)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		wantErr     string // substring; "" = valid
	}{
		{"retention.ms", "1000", ""},
		{"retention.ms", "-1", ""},
		{"retention.ms", " 42 ", ""},
		{"retention.ms", "-2", "at least -1"},
		{"retention.ms", "abc", "Not a number of type LONG"},
		{"retention.ms", "9223372036854775808", "Not a number of type LONG"},
		{"retention.bytes", "-5", ""},
		{"segment.bytes", "13", "at least 14"},
		{"segment.bytes", "2147483648", "Not a number of type INT"},
		{"segment.bytes", "1048576", ""},
		{"segment.ms", "0", "at least 1"},
		{"segment.index.bytes", "3", "at least 4"},
		{"max.message.bytes", "-1", "at least 0"},
		{"min.insync.replicas", "0", "at least 1"},
		{"min.insync.replicas", "2", ""},
		{"flush.messages", "0", "at least 1"},
		{"cleanup.policy", "compact", ""},
		{"cleanup.policy", "compact, delete", ""},
		{"cleanup.policy", "delete,compact", ""},
		{"cleanup.policy", "", "must not be empty"},
		{"cleanup.policy", "purge", "one of"},
		{"compression.type", "zstd", ""},
		{"compression.type", "uncompressed", ""},
		{"compression.type", "none", "one of"},
		{"compression.type", "ZSTD", "one of"},
		{"compression.gzip.level", "-1", ""},
		{"compression.gzip.level", "9", ""},
		{"compression.gzip.level", "0", "-1 or between 1 and 9"},
		{"compression.lz4.level", "18", "no more than 17"},
		{"compression.zstd.level", "-131073", "at least -131072"},
		{"message.timestamp.type", "LogAppendTime", ""},
		{"message.timestamp.type", "logappendtime", "one of"},
		{"min.cleanable.dirty.ratio", "0.9", ""},
		{"min.cleanable.dirty.ratio", "1.5", "between 0 and 1"},
		{"min.cleanable.dirty.ratio", "NaN", "DOUBLE"},
		{"unclean.leader.election.enable", "TRUE", ""},
		{"unclean.leader.election.enable", "yes", "true or false"},
		{"preallocate", "false", ""},
		{"local.retention.ms", "-2", ""},
		{"local.retention.ms", "-3", "at least -2"},
		{"leader.replication.throttled.replicas", "*", ""},
		{"leader.replication.throttled.replicas", "0:1,1:2", ""},
		{"leader.replication.throttled.replicas", "", ""},
		{"leader.replication.throttled.replicas", "0-1", "partitionId"},
		{"no.such.config", "1", "Unknown topic config name: no.such.config"},
		{"retention.ms", strings.Repeat("1", maxValueLen+1), "longer than"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			err := Validate(tc.name, tc.value)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestIsUnknown(t *testing.T) {
	if !IsUnknown(Validate("nope", "1")) {
		t.Fatal("unknown name not reported as unknown")
	}
	if IsUnknown(Validate("retention.ms", "x")) {
		t.Fatal("bad value reported as unknown")
	}
}

func TestValidateOverridesCrossChecks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		broker    map[string]string
		wantErr   string
	}{
		{"empty", nil, nil, ""},
		{"lag ok", map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "20"}, nil, ""},
		{"lag conflict", map[string]string{"min.compaction.lag.ms": "30", "max.compaction.lag.ms": "20"}, nil, "conflict"},
		{"lag conflict via broker", map[string]string{"min.compaction.lag.ms": "30"},
			map[string]string{"log.cleaner.max.compaction.lag.ms": "20"}, "conflict"},
		{"bad value first", map[string]string{"retention.ms": "x", "zzz": "1"}, nil, "retention.ms"},
		{"unknown", map[string]string{"zzz": "1"}, nil, "Unknown topic config name: zzz"},
		{"remote ok", map[string]string{"remote.storage.enable": "true", "retention.ms": "1000", "local.retention.ms": "500"}, nil, ""},
		{"remote local > total", map[string]string{"remote.storage.enable": "true", "retention.ms": "1000", "local.retention.ms": "5000"}, nil, "must not be more than retention.ms"},
		{"remote local -1", map[string]string{"remote.storage.enable": "true", "retention.bytes": "1000", "local.retention.bytes": "-1"}, nil, "must not be -1"},
		{"remote compact", map[string]string{"remote.storage.enable": "true", "cleanup.policy": "compact"}, nil, "cleanup.policy=delete"},
		{"no remote, local > total fine", map[string]string{"retention.ms": "1000", "local.retention.ms": "5000"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateOverrides(tc.overrides, tc.broker)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateBroker(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"log.retention.ms", "1000", true},
		{"log.retention.hours", "168", true},
		{"log.retention.hours", "-1", true},
		{"log.retention.hours", "x", false},
		{"log.retention.hours", "9223372036854775807", false},
		{"log.segment.bytes", "1", false},
		{"log.cleanup.policy", "compact", true},
		{"message.max.bytes", "2000000", true},
		{"num.io.threads", "8", false},
	} {
		if tc.name == "num.io.threads" {
			if err := ValidateBroker(tc.name, tc.value); err == nil || err.Error() != "Unknown broker config name: num.io.threads" || !IsUnknown(err) {
				t.Errorf("unknown broker config: %v", err)
			}
		}
		err := ValidateBroker(tc.name, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateBroker(%s, %s) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
}

func find(vs []Value, name string) Value {
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	return Value{}
}

func TestResolve(t *testing.T) {
	vs := Resolve(
		map[string]string{"cleanup.policy": "compact"},
		map[string]string{"log.retention.hours": "24", "log.segment.bytes": "1048576", "unrelated": "x"},
	)
	if len(vs) != len(catalog) {
		t.Fatalf("got %d values, want %d", len(vs), len(catalog))
	}
	for i := 1; i < len(vs); i++ {
		if vs[i-1].Name >= vs[i].Name {
			t.Fatalf("not sorted: %s before %s", vs[i-1].Name, vs[i].Name)
		}
	}
	for _, tc := range []struct {
		name   string
		value  string
		source kmsg.ConfigSource
		nsyn   int
	}{
		{"cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig, 2},
		{"retention.ms", "86400000", kmsg.ConfigSourceStaticBrokerConfig, 2},
		{"segment.bytes", "1048576", kmsg.ConfigSourceStaticBrokerConfig, 2},
		{"compression.type", "producer", kmsg.ConfigSourceDefaultConfig, 1},
		{"remote.storage.enable", "false", kmsg.ConfigSourceDefaultConfig, 1},
	} {
		v := find(vs, tc.name)
		if v.Value != tc.value || v.Source != tc.source || len(v.Synonyms) != tc.nsyn {
			t.Errorf("%s = %q from %v with %d synonyms, want %q from %v with %d",
				tc.name, v.Value, v.Source, len(v.Synonyms), tc.value, tc.source, tc.nsyn)
		}
		if v.Synonyms[len(v.Synonyms)-1].Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("%s: last synonym is not the default", tc.name)
		}
	}
	if v := find(vs, "retention.ms"); v.Synonyms[0].Name != "log.retention.hours" || v.Synonyms[0].Value != "24" {
		t.Errorf("retention.ms synonym = %+v, want log.retention.hours=24", v.Synonyms[0])
	}
}

func TestResolveLayersPriority(t *testing.T) {
	v, ok := ResolveOne("retention.ms", nil,
		Layer{Source: kmsg.ConfigSourceDynamicBrokerConfig, Configs: map[string]string{"log.retention.minutes": "2"}},
		Layer{Source: kmsg.ConfigSourceStaticBrokerConfig, Configs: map[string]string{"log.retention.ms": "5", "log.retention.hours": "1"}},
	)
	if !ok {
		t.Fatal("retention.ms not found")
	}
	if v.Value != "120000" || v.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("got %q from %v, want 120000 from DYNAMIC_BROKER_CONFIG", v.Value, v.Source)
	}
	wantNames := []string{"log.retention.minutes", "log.retention.ms", "log.retention.hours", "retention.ms"}
	if len(v.Synonyms) != len(wantNames) {
		t.Fatalf("synonyms = %+v", v.Synonyms)
	}
	for i, n := range wantNames {
		if v.Synonyms[i].Name != n {
			t.Errorf("synonym %d = %s, want %s", i, v.Synonyms[i].Name, n)
		}
	}
	if _, ok := ResolveOne("nope", nil); ok {
		t.Fatal("ResolveOne(nope) found something")
	}
}

func TestSplitList(t *testing.T) {
	for in, want := range map[string]int{"": 0, "  ": 0, "a": 1, "a, b": 2, "a,,b": 3} {
		if got := SplitList(in); len(got) != want {
			t.Errorf("SplitList(%q) = %q, want %d items", in, got, want)
		}
	}
}
