package topicconfig

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxValueLen bounds a config value; Kafka has no limit, but nothing in the
// catalog needs more and the value ends up in the Raft log.
const maxValueLen = 32 << 10

// checkType parses value as Kafka's ConfigDef would for typ.
func checkType(typ kmsg.ConfigType, value string) error {
	if len(value) > maxValueLen {
		return fmt.Errorf("value is longer than %d bytes", maxValueLen)
	}
	v := strings.TrimSpace(value)
	switch typ {
	case kmsg.ConfigTypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return errors.New("Expected value to be either true or false")
		}
	case kmsg.ConfigTypeInt:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return errors.New("Not a number of type INT")
		}
	case kmsg.ConfigTypeLong:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("Not a number of type LONG")
		}
	case kmsg.ConfigTypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("Not a number of type DOUBLE")
		}
	}
	return nil
}

func parseInt(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64) // type already checked
	return n
}

func intRange(lo, hi int64) func(string) error {
	return func(v string) error {
		n := parseInt(v)
		if n < lo {
			return fmt.Errorf("Value must be at least %d", lo)
		}
		if n > hi {
			return fmt.Errorf("Value must be no more than %d", hi)
		}
		return nil
	}
}

// intIn accepts [lo1, hi1] or [lo2, hi2].
func intIn(lo1, hi1, lo2, hi2 int64) func(string) error {
	return func(v string) error {
		n := parseInt(v)
		if (n >= lo1 && n <= hi1) || (n >= lo2 && n <= hi2) {
			return nil
		}
		return fmt.Errorf("Value must be %d or between %d and %d", lo1, lo2, hi2)
	}
}

func floatRange(lo, hi float64) func(string) error {
	return func(v string) error {
		f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if f < lo || f > hi {
			return fmt.Errorf("Value must be between %g and %g", lo, hi)
		}
		return nil
	}
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("String must be one of: %s", strings.Join(allowed, ", "))
	}
}

// SplitList splits a LIST value as Kafka does: on commas, trimming spaces.
// An empty or blank value is the empty list.
func SplitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// listOf accepts a non-empty list whose every item is one of allowed.
func listOf(allowed ...string) func(string) error {
	in := oneOf(allowed...)
	return func(v string) error {
		items := SplitList(v)
		if len(items) == 0 {
			return fmt.Errorf("List must not be empty; valid items are [%s]", strings.Join(allowed, ", "))
		}
		for _, it := range items {
			if in(it) != nil {
				return fmt.Errorf("Invalid value %s for configuration: String must be one of: %s", it, strings.Join(allowed, ", "))
			}
		}
		return nil
	}
}

// throttledReplicas accepts "", "*" or partition:broker pairs.
func throttledReplicas(v string) error {
	items := SplitList(v)
	if len(items) == 1 && items[0] == "*" {
		return nil
	}
	for _, it := range items {
		p, b, ok := strings.Cut(it, ":")
		if !ok || !isDigits(strings.TrimSpace(p)) || !isDigits(strings.TrimSpace(b)) {
			return errors.New("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// convert turns a broker synonym's value into the topic config's unit.
func convert(e *Entry, s Synonym, value string) (string, error) {
	if s.Multiplier == 1 || s.Multiplier == 0 {
		return value, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return "", errors.New("Not a number of type LONG")
	}
	if n < 0 {
		return "-1", nil // Kafka: any negative hours/minutes means "no limit"
	}
	if n > math.MaxInt64/s.Multiplier {
		return "", fmt.Errorf("%s overflows %s", value, e.Name)
	}
	return strconv.FormatInt(n*s.Multiplier, 10), nil
}

// crossCheck applies the rules that tie configs together, on the values in
// force (every catalog name present).
func crossCheck(eff map[string]string) error {
	minLag, maxLag := parseInt(eff["min.compaction.lag.ms"]), parseInt(eff["max.compaction.lag.ms"])
	if minLag > maxLag {
		return &Error{Name: "min.compaction.lag.ms", Value: eff["min.compaction.lag.ms"],
			Reason: fmt.Sprintf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)}
	}
	if !strings.EqualFold(strings.TrimSpace(eff["remote.storage.enable"]), "true") {
		return nil
	}
	for _, it := range SplitList(eff["cleanup.policy"]) {
		if it != "delete" {
			return &Error{Name: "cleanup.policy", Value: eff["cleanup.policy"],
				Reason: "Remote log storage only supports topics with cleanup.policy=delete"}
		}
	}
	for _, pair := range [][2]string{{"retention.bytes", "local.retention.bytes"}, {"retention.ms", "local.retention.ms"}} {
		total, local := parseInt(eff[pair[0]]), parseInt(eff[pair[1]])
		if total <= -1 || local == -2 {
			continue
		}
		if local == -1 {
			return &Error{Name: pair[1], Value: eff[pair[1]],
				Reason: fmt.Sprintf("Value must not be -1 as %s value is set as %d.", pair[0], total)}
		}
		if local > total {
			return &Error{Name: pair[1], Value: eff[pair[1]],
				Reason: fmt.Sprintf("Value must not be more than %s property value: %d", pair[0], total)}
		}
	}
	return nil
}
