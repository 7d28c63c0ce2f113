// Package topicconfig is the catalog of topic-level configurations that Kafka
// users know (retention.ms, cleanup.policy, compression.type, ...): for each
// one its type, its built-in default, the broker properties it falls back to
// (retention.ms <- log.retention.ms, log.retention.minutes,
// log.retention.hours), whether it is sensitive, a documentation line and a
// validator.
//
// The controller validates CreateTopics/AlterConfigs requests with Validate
// and ValidateOverrides; the broker answers DescribeConfigs with Resolve,
// which says for every config the value in force and where it came from
// (DYNAMIC_TOPIC_CONFIG, a broker layer, or DEFAULT_CONFIG), with its
// synonyms in priority order, as Kafka does.
//
// The package holds no state: the catalog is built once at init and never
// changes, so every function is safe for concurrent use.
package topicconfig

import (
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Synonym is a broker property that supplies a topic config's value when the
// topic has no override. Multiplier converts the broker unit into the topic
// unit (log.retention.hours -> retention.ms is 3,600,000); it is 1 when the
// units agree.
type Synonym struct {
	Name       string
	Multiplier int64
}

// Entry describes one topic-level config.
type Entry struct {
	// Name is the topic config name, e.g. "retention.ms".
	Name string
	// Type is the Kafka config type reported by DescribeConfigs v3+.
	Type kmsg.ConfigType
	// Default is the built-in default as Kafka writes it.
	Default string
	// BrokerSynonyms are the broker properties that override Default for
	// every topic, highest priority first. Empty when the config has no
	// broker-level counterpart.
	BrokerSynonyms []Synonym
	// Sensitive configs are never returned in clear text.
	Sensitive bool
	// Doc is a one-paragraph description for DescribeConfigs v3+.
	Doc string

	// validate checks one value; nil accepts anything of the right type.
	validate func(string) error
}

// BrokerProperty returns the highest-priority broker property of e (the one
// an operator usually sets), or "" if e has none.
func (e Entry) BrokerProperty() string {
	if len(e.BrokerSynonyms) == 0 {
		return ""
	}
	return e.BrokerSynonyms[0].Name
}

// Error is a rejected config: an unknown name or an invalid value. Its
// message follows Kafka's wording so that it can go into a response as is.
type Error struct {
	Name   string
	Value  string
	Reason string
	// Unknown is true when Name is not a known config.
	Unknown bool
	// Broker is true when Name is a broker property (ValidateBroker).
	Broker bool
}

// Error implements error.
func (e *Error) Error() string {
	if e.Unknown && e.Broker {
		return "Unknown broker config name: " + e.Name
	}
	if e.Unknown {
		return "Unknown topic config name: " + e.Name
	}
	return fmt.Sprintf("Invalid value %s for configuration %s: %s", e.Value, e.Name, e.Reason)
}

// IsUnknown reports whether err (or an error it wraps) is an *Error for an
// unknown config name.
func IsUnknown(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.Unknown
}

var (
	byName       map[string]*Entry
	byBrokerName map[string]*Entry
	sorted       []Entry
)

func init() {
	byName = make(map[string]*Entry, len(catalog))
	byBrokerName = make(map[string]*Entry)
	for i := range catalog {
		e := &catalog[i]
		byName[e.Name] = e // uniqueness is checked by TestCatalogNamesUnique
		for _, s := range e.BrokerSynonyms {
			byBrokerName[s.Name] = e
		}
	}
	sorted = append([]Entry(nil), catalog...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
}

// Lookup returns the entry for a topic config name.
func Lookup(name string) (Entry, bool) {
	e, ok := byName[name]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// LookupBroker returns the topic config entry that the broker property name
// supplies a default for (log.retention.hours -> retention.ms), and the
// synonym itself.
func LookupBroker(name string) (Entry, Synonym, bool) {
	e, ok := byBrokerName[name]
	if !ok {
		return Entry{}, Synonym{}, false
	}
	for _, s := range e.BrokerSynonyms {
		if s.Name == name {
			return *e, s, true
		}
	}
	return Entry{}, Synonym{}, false
}

// All returns every entry sorted by name. The slice is a fresh copy; the
// caller may keep or modify it.
func All() []Entry {
	return append([]Entry(nil), sorted...)
}

// Validate checks one topic config. The returned error is an *Error, nil if
// the name is known and the value valid.
func Validate(name, value string) error {
	e, ok := byName[name]
	if !ok {
		return &Error{Name: name, Value: value, Unknown: true}
	}
	return e.check(value)
}

// ValidateBroker checks a broker-level property that supplies a topic config
// default (log.retention.ms, log.retention.hours, ...): the name must be a
// known synonym and the value valid for the topic config once converted.
func ValidateBroker(name, value string) error {
	e, syn, ok := LookupBroker(name)
	if !ok {
		return &Error{Name: name, Value: value, Unknown: true, Broker: true}
	}
	conv, err := convert(&e, syn, value)
	if err != nil {
		return &Error{Name: name, Value: value, Reason: err.Error(), Broker: true}
	}
	if err := e.check(conv); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return &Error{Name: name, Value: value, Reason: ce.Reason, Broker: true}
		}
		return err
	}
	return nil
}

func (e *Entry) check(value string) error {
	if err := checkType(e.Type, value); err != nil {
		return &Error{Name: e.Name, Value: value, Reason: err.Error()}
	}
	if e.validate != nil {
		if err := e.validate(value); err != nil {
			return &Error{Name: e.Name, Value: value, Reason: err.Error()}
		}
	}
	return nil
}

// ValidateOverrides checks a topic's complete set of overrides: every name
// and value as Validate does, then the rules that tie several configs
// together (min.compaction.lag.ms <= max.compaction.lag.ms; with
// remote.storage.enable, local retention within total retention), evaluated
// on the values in force once brokerDefaults (broker property name -> value)
// are applied. Names are checked in sorted order so the error is
// deterministic.
func ValidateOverrides(overrides, brokerDefaults map[string]string) error {
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := Validate(n, overrides[n]); err != nil {
			return err
		}
	}
	eff := make(map[string]string, len(catalog))
	for _, v := range Resolve(overrides, brokerDefaults) {
		eff[v.Name] = v.Value
	}
	return crossCheck(eff)
}
