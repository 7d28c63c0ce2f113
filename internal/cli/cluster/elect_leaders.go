package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newElectLeadersCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		electionType string
		topic        string
		partitions   []int32
		out          format.Format
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders",
		Short: "Elect partition leaders (preferred or unclean)",
		Long: `Elect partition leaders with ElectLeaders (KIP-183, KIP-460).

--type preferred (the default) makes each partition's first replica its
leader again, if it is alive and in sync: run it after a broker came back,
or after a reassignment, to even out leadership. --type unclean elects a
live replica of a partition that has no leader even if it is not in sync,
which can lose acknowledged records: use it only to bring a partition back
when waiting for its in-sync replicas is worse than losing data.

Without --topic every partition of the cluster is elected; --topic with no
--partition elects every partition of that topic.

Columns: TOPIC, PARTITION, STATUS ("OK", ELECTION_NOT_NEEDED when the
partition already had that leader, else the Kafka error and its message).
The command exits non-zero if any partition failed otherwise.

Examples:
  samsa cluster elect-leaders
  samsa cluster elect-leaders --topic orders
  samsa cluster elect-leaders --topic orders --partition 0,3
  samsa cluster elect-leaders --type unclean --topic orders --partition 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			how, err := parseElectionType(electionType)
			if err != nil {
				return err
			}
			if len(partitions) > 0 && topic == "" {
				return fmt.Errorf("--partition needs --topic: name the topic the partitions belong to")
			}
			s, err := openSession(cf)
			if err != nil {
				return err
			}
			defer s.close()
			return electLeadersCommand(cmd.Context(), s, how, topic, partitions, out, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&electionType, "type", "preferred", "election type: preferred or unclean")
	cmd.Flags().StringVar(&topic, "topic", "", "elect the partitions of this topic only")
	cmd.Flags().Int32SliceVar(&partitions, "partition", nil, "elect only these partitions of --topic (comma separated or repeated)")
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}

func parseElectionType(s string) (kadm.ElectLeadersHow, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "preferred":
		return kadm.ElectPreferredReplica, nil
	case "unclean":
		return kadm.ElectLiveReplica, nil
	}
	return 0, fmt.Errorf("--type %q: want preferred or unclean", s)
}

func electLeadersCommand(ctx context.Context, s *session, how kadm.ElectLeadersHow, topic string, partitions []int32,
	out format.Format, stdout, stderr io.Writer) error {
	var set partitionSet
	if topic != "" {
		set = partitionSet{}
		if len(partitions) == 0 {
			md, err := fetchMetadata(ctx, s, []string{topic})
			if err != nil {
				return fmt.Errorf("elect leaders: %w", err)
			}
			for _, t := range md.Topics {
				if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
					return fmt.Errorf("elect leaders: topic %q: %w (list topics with `samsa topic list`)", topic, err)
				}
				for _, p := range t.Partitions {
					set.add(topic, p.Partition)
				}
			}
			if set.count() == 0 {
				return fmt.Errorf("elect leaders: topic %q has no partitions", topic)
			}
		}
		for _, p := range partitions {
			if p < 0 {
				return fmt.Errorf("--partition %d: partitions are numbered from 0", p)
			}
			set.add(topic, p)
		}
	}
	rows, ran, err := electLeaders(ctx, s, how, set)
	if err != nil {
		return err
	}
	if how == kadm.ElectLiveReplica && ran != how {
		fmt.Fprintln(stderr, "warning: the cluster does not support unclean elections (ElectLeaders v1+); it ran a preferred election")
	}
	if err := format.Print(stdout, out, rows, func(w io.Writer) error { return writeStatuses(w, rows) }); err != nil {
		return err
	}
	if n := countFailed(rows); n > 0 {
		return fmt.Errorf("elect leaders: %d of %d partitions failed: %s", n, len(rows), summarize(rows))
	}
	return nil
}
