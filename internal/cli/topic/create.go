package topic

import (
	"context"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newCreateCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
		dryRun     bool
		out        format.Format
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Long: `Create one or more topics (CreateTopics).

Every topic gets the same partition count, replication factor and configs.
-1 (the default) for --partitions or --replication-factor lets the broker
apply its num.partitions / default.replication.factor.

Prints one row per topic: TOPIC and STATUS, which is OK or the Kafka error
name and message (for example TOPIC_ALREADY_EXISTS). The command exits
non-zero if any topic was not created.

Examples:
  samsa topic create orders
  samsa topic create orders payments -p 6 -r 3
  samsa topic create events -c cleanup.policy=compact -c retention.ms=-1
  samsa topic create orders -p 6 --dry-run      # validate only
  samsa topic create orders --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgs, err := parseKeyValues("--config", configs)
			if err != nil {
				return err
			}
			if partitions == 0 || partitions < -1 {
				return fmt.Errorf("--partitions must be positive or -1, got %d", partitions)
			}
			if replicas == 0 || replicas < -1 {
				return fmt.Errorf("--replication-factor must be positive or -1, got %d", replicas)
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				create := adm.CreateTopics
				if dryRun {
					create = adm.ValidateCreateTopics
				}
				resps, err := create(ctx, partitions, replicas, cfgs, names...)
				if err != nil {
					return fmt.Errorf("create topics: %w", err)
				}
				rows := make([]status, 0, len(names))
				for _, name := range names {
					r, ok := resps[name]
					if !ok {
						rows = append(rows, status{Topic: name, Status: "NO_RESPONSE", Message: "the broker did not answer for this topic"})
						continue
					}
					rows = append(rows, newStatus(name, r.Err, r.ErrMessage))
				}
				return printStatuses(cmd.OutOrStdout(), out, "create", rows)
			})
		},
	}
	fs := cmd.Flags()
	fs.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: broker default)")
	fs.Int16VarP(&replicas, "replication-factor", "r", -1, "replicas per partition (-1: broker default)")
	fs.StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	fs.BoolVar(&dryRun, "dry-run", false, "validate the request without creating anything")
	format.AddFlag(fs, &out)
	return cmd
}
