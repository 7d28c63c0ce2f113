// Package cluster implements `samsa cluster`: commands about the cluster as a
// whole rather than one topic or group.
package cluster

import (
	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
)

// NewCommand returns the `cluster` command with its verbs.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster",
		Long: `Inspect the cluster: its id, controller and brokers.

Examples:
  samsa cluster info
  samsa cluster info --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.Register(cmd.PersistentFlags())
	cmd.AddCommand(newInfoCommand(cf))
	return cmd
}
