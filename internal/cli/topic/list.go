package topic

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// listedTopic is one row of `topic list`.
type listedTopic struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replicas"`
	Internal   bool   `json:"internal"`
}

func newListCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		internal bool
		out      format.Format
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Long: `List the topics of the cluster (Metadata), sorted by name.

Columns: TOPIC, PARTITIONS (partition count) and REPLICAS (replication
factor). Internal topics such as __consumer_offsets are hidden unless
--internal is given.

Examples:
  samsa topic list
  samsa topic list --internal
  samsa topic list --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				var (
					details kadm.TopicDetails
					err     error
				)
				if internal {
					details, err = adm.ListTopicsWithInternal(ctx)
				} else {
					details, err = adm.ListTopics(ctx)
				}
				if err != nil {
					return fmt.Errorf("list topics: %w", err)
				}
				rows := make([]listedTopic, 0, len(details))
				for _, d := range details.Sorted() {
					if d.Topic == "" {
						continue
					}
					rows = append(rows, listedTopic{
						Topic:      d.Topic,
						Partitions: len(d.Partitions),
						Replicas:   d.Partitions.NumReplicas(),
						Internal:   d.IsInternal,
					})
				}
				return format.Print(cmd.OutOrStdout(), out, rows, func(w io.Writer) error {
					t := format.NewTable("TOPIC", "PARTITIONS", "REPLICAS")
					for _, r := range rows {
						t.Row(r.Topic, r.Partitions, r.Replicas)
					}
					return t.Write(w)
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics (__consumer_offsets, ...)")
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}
