package topicconfig

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Value is one topic config as DescribeConfigs reports it: the value in
// force, where it came from and the other places it could have come from.
type Value struct {
	Name  string
	Value string
	// Source is DYNAMIC_TOPIC_CONFIG for a topic override, the Source of
	// the broker Layer that supplied it, or DEFAULT_CONFIG.
	Source    kmsg.ConfigSource
	Type      kmsg.ConfigType
	Sensitive bool
	// ReadOnly is always false for topic configs (every one is dynamic).
	ReadOnly bool
	Doc      string
	// Synonyms lists every place that sets this config, highest priority
	// first, starting with the one in force (DescribeConfigs v1+
	// IncludeSynonyms). The DEFAULT_CONFIG entry is the last one.
	Synonyms []SynonymValue
}

// SynonymValue is one entry of Value.Synonyms.
type SynonymValue struct {
	Name   string
	Value  string
	Source kmsg.ConfigSource
}

// Layer is a set of broker properties (broker property name -> value, as in
// server.properties) that supply topic defaults, tagged with the source
// DescribeConfigs reports for them: STATIC_BROKER_CONFIG for the node's
// configuration file and flags, DYNAMIC_BROKER_CONFIG for a per-broker
// dynamic config, DYNAMIC_DEFAULT_BROKER_CONFIG for the cluster-wide one.
type Layer struct {
	Source  kmsg.ConfigSource
	Configs map[string]string
}

// Resolve returns every catalog config, sorted by name, with the value in
// force for a topic whose overrides are given (topic config name -> value),
// falling back to brokerDefaults (broker property name -> value, reported as
// STATIC_BROKER_CONFIG) and then to the built-in default. Unknown override
// names are ignored; validate with ValidateOverrides first.
func Resolve(overrides, brokerDefaults map[string]string) []Value {
	return ResolveLayers(overrides, Layer{Source: kmsg.ConfigSourceStaticBrokerConfig, Configs: brokerDefaults})
}

// ResolveLayers is Resolve with several broker layers, highest priority
// first (Kafka's order is DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG,
// STATIC_BROKER_CONFIG). Within a layer, a config's broker synonyms are
// tried in their priority order (log.retention.ms before
// log.retention.minutes before log.retention.hours), converted to the topic
// config's unit. A broker value that does not convert is skipped.
func ResolveLayers(overrides map[string]string, layers ...Layer) []Value {
	out := make([]Value, 0, len(sorted))
	for i := range sorted {
		out = append(out, resolveOne(&sorted[i], overrides, layers))
	}
	return out
}

// ResolveOne is ResolveLayers for a single config name; ok is false if the
// name is not in the catalog.
func ResolveOne(name string, overrides map[string]string, layers ...Layer) (v Value, ok bool) {
	e, ok := byName[name]
	if !ok {
		return Value{}, false
	}
	return resolveOne(e, overrides, layers), true
}

func resolveOne(e *Entry, overrides map[string]string, layers []Layer) Value {
	v := Value{Name: e.Name, Type: e.Type, Sensitive: e.Sensitive, Doc: e.Doc}
	if ov, ok := overrides[e.Name]; ok {
		v.Synonyms = append(v.Synonyms, SynonymValue{Name: e.Name, Value: ov, Source: kmsg.ConfigSourceDynamicTopicConfig})
	}
	for _, l := range layers {
		for _, s := range e.BrokerSynonyms {
			raw, ok := l.Configs[s.Name]
			if !ok {
				continue
			}
			conv, err := convert(e, s, raw)
			if err != nil {
				continue
			}
			// The synonym keeps its own name and raw value, as Kafka
			// reports it; the converted value is what applies.
			v.Synonyms = append(v.Synonyms, SynonymValue{Name: s.Name, Value: raw, Source: l.Source})
			if len(v.Synonyms) == 1 {
				v.Value, v.Source = conv, l.Source
			}
		}
	}
	v.Synonyms = append(v.Synonyms, SynonymValue{Name: e.Name, Value: e.Default, Source: kmsg.ConfigSourceDefaultConfig})
	switch {
	case v.Synonyms[0].Source == kmsg.ConfigSourceDynamicTopicConfig:
		v.Value, v.Source = v.Synonyms[0].Value, kmsg.ConfigSourceDynamicTopicConfig
	case len(v.Synonyms) == 1:
		v.Value, v.Source = e.Default, kmsg.ConfigSourceDefaultConfig
	}
	return v
}
