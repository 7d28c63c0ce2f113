package topic

import (
	"context"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newAddPartitionsCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		total  int
		dryRun bool
		out    format.Format
	)
	cmd := &cobra.Command{
		Use:   "add-partitions NAME... --num TOTAL",
		Short: "Raise the partition count of topics",
		Long: `Raise the partition count of one or more topics (CreatePartitions).

--num is the TOTAL number of partitions each topic has afterwards, not the
number to add. Partitions can be added, never removed; a --num lower than the
current count fails with INVALID_PARTITIONS. Adding partitions changes which
partition a key hashes to.

Prints TOPIC and STATUS per topic; exits non-zero if any topic failed.

Examples:
  samsa topic add-partitions orders --num 12
  samsa topic add-partitions orders payments -n 12 --dry-run`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("num") {
				return fmt.Errorf("--num (the total partition count) is required")
			}
			if total < 1 || total > 1<<31-1 {
				return fmt.Errorf("--num must be between 1 and 2147483647, got %d", total)
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				update := adm.UpdatePartitions
				if dryRun {
					update = adm.ValidateUpdatePartitions
				}
				resps, err := update(ctx, total, names...)
				if err != nil {
					return fmt.Errorf("add partitions: %w", err)
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
				return printStatuses(cmd.OutOrStdout(), out, "add-partitions", rows)
			})
		},
	}
	cmd.Flags().IntVarP(&total, "num", "n", 0, "total number of partitions after the change (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate the request without changing anything")
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}
