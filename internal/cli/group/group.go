// Package group implements `samsa group`: list, describe, reset-offsets and
// delete, one file per verb, all through franz-go's admin client (kadm).
//
// The output follows Apache Kafka's kafka-consumer-groups.sh so that anyone
// who knows that tool can read it:
//
//   - describe (offsets view): GROUP TOPIC PARTITION CURRENT-OFFSET
//     LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID. A row per partition a
//     member is assigned, then a row per partition the group committed to
//     that no member holds (CONSUMER-ID, HOST and CLIENT-ID "-"). A partition
//     without a committed offset shows "-" for CURRENT-OFFSET and LAG, as
//     Kafka does; LAG is LOG-END-OFFSET minus CURRENT-OFFSET.
//   - describe --members: GROUP CONSUMER-ID [GROUP-INSTANCE-ID] HOST
//     CLIENT-ID #PARTITIONS (plus ASSIGNMENT with --verbose).
//   - describe --state: GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE
//     #MEMBERS.
//   - reset-offsets: GROUP TOPIC PARTITION NEW-OFFSET; a dry run unless
//     --execute is given, refused while the group has members.
//
// Every verb also takes --format json|yaml (see package format).
package group

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// NewCommand returns the `group` command with all its verbs.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups", "consumer-group"},
		Short:   "List, describe, reset and delete consumer groups",
		Long: `List, describe, reset and delete consumer groups.

Consumers sharing a group.id split a topic's partitions between them and
commit the offset they have reached; a group's lag on a partition is the log
end offset minus its committed offset.

Examples:
  samsa group list
  samsa group describe audit
  samsa group describe audit --members --verbose
  samsa group reset-offsets audit --topic orders --to-earliest --execute
  samsa group delete audit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.Register(cmd.PersistentFlags())
	cmd.AddCommand(
		newListCommand(cf),
		newDescribeCommand(cf),
		newResetOffsetsCommand(cf),
		newDeleteCommand(cf),
	)
	return cmd
}

// missing is what a column shows when it has no value, as in Kafka's tools.
const missing = "-"

// Group states as the brokers name them (classic protocol, then KIP-848).
var knownStates = []string{
	"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Dead",
	"Assigning", "Reconciling",
}

// parseStates turns --state values (comma separated or repeated, any case)
// into the brokers' spelling of the states.
func parseStates(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			i := slices.IndexFunc(knownStates, func(k string) bool { return strings.EqualFold(k, s) })
			if i < 0 {
				return nil, fmt.Errorf("--state %q: unknown group state (want one of %s)", s, strings.Join(knownStates, ", "))
			}
			if !slices.Contains(out, knownStates[i]) {
				out = append(out, knownStates[i])
			}
		}
	}
	return out, nil
}

// inactive reports whether a group in state may have its offsets reset:
// Kafka allows it only while nobody consumes (Empty) or the group does not
// exist (Dead).
func inactive(state string) bool {
	return state == "Empty" || state == "Dead"
}

// errGroupNotFound builds the error for a group the coordinator does not
// know (state Dead, or GROUP_ID_NOT_FOUND from DescribeGroups v6+).
func errGroupNotFound(group string) error {
	return fmt.Errorf("consumer group %q does not exist: %w", group, kerr.GroupIDNotFound)
}

// describeGroups describes the named groups and returns them in the order
// given. A group the coordinator does not know comes back with state "Dead"
// and no error, whichever way the broker said so.
func describeGroups(ctx context.Context, adm *kadm.Client, names []string) ([]kadm.DescribedGroup, error) {
	if len(names) == 0 {
		return nil, nil
	}
	described, err := adm.DescribeGroups(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	out := make([]kadm.DescribedGroup, 0, len(names))
	for _, name := range names {
		d, ok := described[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("describe groups: the coordinator did not answer for group %q", name)
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			d.Err, d.State = nil, "Dead"
		case d.Err != nil:
			msg := d.ErrMessage
			if msg == "" {
				msg = d.Err.Error()
			}
			return nil, fmt.Errorf("describe group %q: %s: %w", name, msg, d.Err)
		}
		out = append(out, d)
	}
	return out, nil
}

// status is one row of the GROUP STATUS table that delete prints.
type status struct {
	Group string `json:"group"`
	// Status is "OK" or the Kafka error name (NON_EMPTY_GROUP).
	Status string `json:"status"`
	// Message is the broker's error message or the error's description;
	// empty when Status is OK.
	Message string `json:"message"`
}

// StatusParts returns the row's cells; it makes status a format.StatusRow.
func (s status) StatusParts() (string, string, string) {
	return s.Group, s.Status, s.Message
}

// printStatuses prints the GROUP STATUS table and returns an error naming
// how many groups failed (see format.PrintStatuses).
func printStatuses(w io.Writer, f format.Format, verb string, rows []status) error {
	return format.PrintStatuses(w, f, "GROUP", verb, rows)
}

// uniq returns names without duplicates, keeping the first occurrence.
var uniq = format.UniqueNames
