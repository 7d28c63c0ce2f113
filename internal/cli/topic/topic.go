// Package topic implements `samsa topic`: create, list, describe,
// alter-config, add-partitions and delete, one file per verb, all through
// franz-go's admin client (kadm), so every verb is also a Kafka
// compatibility check of the broker it talks to.
package topic

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// NewCommand returns the `topic` command with all its verbs.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	cmd := &cobra.Command{
		Use:     "topic",
		Aliases: []string{"topics"},
		Short:   "Create, list, describe, configure and delete topics",
		Long: `Create, list, describe, configure and delete topics.

A topic is a named feed split into partitions; each partition is an ordered,
append-only log replicated to --replication-factor brokers.

Examples:
  samsa topic create orders -p 6 -r 3 -c retention.ms=86400000
  samsa topic list
  samsa topic describe orders --configs
  samsa topic alter-config orders --set cleanup.policy=compact
  samsa topic add-partitions orders --num 12
  samsa topic delete orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.Register(cmd.PersistentFlags())
	cmd.AddCommand(
		newCreateCommand(cf),
		newListCommand(cf),
		newDescribeCommand(cf),
		newAlterConfigCommand(cf),
		newAddPartitionsCommand(cf),
		newDeleteCommand(cf),
	)
	return cmd
}

// status is one row of the TOPIC STATUS table that create, alter-config,
// add-partitions and delete print.
type status struct {
	Topic string `json:"topic"`
	// Status is "OK" or the Kafka error name (TOPIC_ALREADY_EXISTS).
	Status string `json:"status"`
	// Message is the broker's error message or the error's description;
	// empty when Status is OK.
	Message string `json:"message"`
}

func newStatus(topic string, err error, brokerMessage string) status {
	name, desc := format.ErrorParts(err, brokerMessage)
	return status{Topic: topic, Status: name, Message: desc}
}

// StatusParts returns the row's cells; it makes status a format.StatusRow.
func (s status) StatusParts() (string, string, string) {
	return s.Topic, s.Status, s.Message
}

// printStatuses prints the TOPIC STATUS table and returns an error naming
// how many topics failed (see format.PrintStatuses).
func printStatuses(w io.Writer, f format.Format, verb string, rows []status) error {
	return format.PrintStatuses(w, f, "TOPIC", verb, rows)
}

// uniq returns names without duplicates, keeping the first occurrence.
var uniq = format.UniqueNames

// parseKeyValues parses "key=value" pairs (the value may be empty or hold
// further '=' signs). A key given twice is an error.
func parseKeyValues(flag string, pairs []string) (map[string]*string, error) {
	out := make(map[string]*string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, p)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: key %q given twice", flag, k)
		}
		out[k] = &v
	}
	return out, nil
}
