package group

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newDescribeCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		members, state, verbose bool
		out                     format.Format
	)
	cmd := &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Describe consumer groups: offsets and lag, members or state",
		Long: `Describe consumer groups (DescribeGroups, OffsetFetch, ListOffsets), with
the views and columns of Kafka's kafka-consumer-groups.sh.

Default view, one row per partition:
  GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
CURRENT-OFFSET is the group's committed offset, LOG-END-OFFSET the
partition's high watermark and LAG their difference: the records the group
has yet to consume. Partitions a member holds come first; partitions the
group committed to but no member holds follow with CONSUMER-ID, HOST and
CLIENT-ID "-". A partition without a committed offset shows "-" for
CURRENT-OFFSET and LAG. --verbose adds LEADER-EPOCH (of the commit).

--members, one row per member:
  GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS
GROUP-INSTANCE-ID is added when a member has one (static membership), and
ASSIGNMENT ("orders(0,1), payments(2)") with --verbose.

--state, one row per group:
  GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS

Notes go to stderr: a group without members ("has no active members") or in
a rebalance. A group that does not exist makes the command exit non-zero
after the others are printed. With --format json or yaml the result is a
list with one object per group (offsets: group, state, total_lag,
partitions; members: group, state, members; state: group, coordinator,
assignment_strategy, state, protocol_type, members).

Examples:
  samsa group describe audit
  samsa group describe audit billing --format json
  samsa group describe audit --members --verbose
  samsa group describe audit --state`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if members && state {
				return errors.New("--members and --state are different views: give one of them")
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				described, err := describeGroups(ctx, adm, uniq(args))
				if err != nil {
					return err
				}
				var (
					groups   []groupInfo
					notFound []error
				)
				for _, d := range described {
					if d.State == "Dead" {
						notFound = append(notFound, errGroupNotFound(d.Group))
						continue
					}
					groups = append(groups, newGroupInfo(d))
				}
				stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
				switch {
				case len(groups) == 0:
				case members:
					err = printMembersView(stdout, stderr, out, groups, verbose)
				case state:
					err = printStateView(stdout, out, groups)
				default:
					err = printOffsetsView(ctx, adm, stdout, stderr, out, groups, verbose)
				}
				return errors.Join(append([]error{err}, notFound...)...)
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&members, "members", false, "one row per member instead of per partition")
	fs.BoolVar(&state, "state", false, "one row per group: coordinator, assignment strategy, state and member count")
	fs.BoolVarP(&verbose, "verbose", "v", false, "more columns: LEADER-EPOCH (offsets) or ASSIGNMENT (--members)")
	format.AddFlag(fs, &out)
	return cmd
}

// printOffsetsView fetches the commits and log end offsets of the groups and
// prints the default view.
func printOffsetsView(ctx context.Context, adm *kadm.Client, stdout, stderr io.Writer, f format.Format, groups []groupInfo, verbose bool) error {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	fetched := adm.FetchManyOffsets(ctx, names...)
	topics := make(kadm.TopicsSet)
	for _, g := range groups {
		for _, m := range g.Members {
			for _, t := range m.Assignment {
				topics.Add(t.Topic, t.Partitions...)
			}
		}
		r, ok := fetched[g.Name]
		if !ok {
			return fmt.Errorf("describe group %q: committed offsets: no answer from the coordinator", g.Name)
		}
		if r.Err != nil {
			return fmt.Errorf("describe group %q: committed offsets: %w", g.Name, r.Err)
		}
		topics.Merge(r.Fetched.Partitions())
	}
	var ends kadm.ListedOffsets
	if ts := topics.Topics(); len(ts) > 0 {
		var err error
		ends, err = adm.ListEndOffsets(ctx, ts...)
		if _, partial := errors.AsType[*kadm.ShardErrors](err); err != nil && !partial {
			return fmt.Errorf("describe groups: list log end offsets: %w", err)
		}
		// A partial failure leaves partitions unlisted; their rows show "-"
		// and say why in the error field.
	}
	results := make([]groupLag, len(groups))
	for i, g := range groups {
		results[i] = offsetRows(g, fetched[g.Name].Fetched, ends)
	}
	return format.Print(stdout, f, results, func(w io.Writer) error {
		first := true
		for i, r := range results {
			stateNote(stderr, groups[i])
			if len(r.Partitions) == 0 {
				continue
			}
			if !first {
				io.WriteString(w, "\n")
			}
			first = false
			if err := writeOffsets(w, r, verbose); err != nil {
				return err
			}
		}
		return nil
	})
}

func printMembersView(stdout, stderr io.Writer, f format.Format, groups []groupInfo, verbose bool) error {
	results := make([]groupMembers, len(groups))
	for i, g := range groups {
		results[i] = memberRows(g)
	}
	return format.Print(stdout, f, results, func(w io.Writer) error {
		first := true
		for i, r := range results {
			stateNote(stderr, groups[i])
			if len(r.Members) == 0 {
				continue
			}
			if !first {
				io.WriteString(w, "\n")
			}
			first = false
			if err := writeMembers(w, r, verbose); err != nil {
				return err
			}
		}
		return nil
	})
}

func printStateView(stdout io.Writer, f format.Format, groups []groupInfo) error {
	results := make([]groupState, len(groups))
	for i, g := range groups {
		results[i] = stateRow(g)
	}
	return format.Print(stdout, f, results, func(w io.Writer) error {
		for i, r := range results {
			if i > 0 {
				io.WriteString(w, "\n")
			}
			if err := writeState(w, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// stateNote tells on stderr, as Kafka's tool does, that a group has no
// members or is rebalancing (so its assignment is about to change).
func stateNote(w io.Writer, g groupInfo) {
	switch g.State {
	case "Empty":
		fmt.Fprintf(w, "Consumer group '%s' has no active members.\n", g.Name)
	case "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling":
		fmt.Fprintf(w, "Warning: consumer group '%s' is rebalancing.\n", g.Name)
	}
}
