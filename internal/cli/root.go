// Package cli assembles samsa's command tree: one folder per noun
// (topic, produce, consume, cluster), one file per verb, each command with a
// RunE that returns its error. Nothing here exits the process; cmd/samsa
// prints the error and chooses the exit status.
package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/bench"
	"github.com/samsa-streaming/samsa/internal/cli/cluster"
	"github.com/samsa-streaming/samsa/internal/cli/consume"
	"github.com/samsa-streaming/samsa/internal/cli/dev"
	"github.com/samsa-streaming/samsa/internal/cli/group"
	"github.com/samsa-streaming/samsa/internal/cli/produce"
	"github.com/samsa-streaming/samsa/internal/cli/server"
	"github.com/samsa-streaming/samsa/internal/cli/topic"
)

// NewRootCommand returns the `samsa` command with every subcommand. Each call
// builds a fresh tree, so tests can run commands in-process side by side.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "samsa",
		Short: "samsa: a Kafka-compatible event-streaming platform in one binary",
		Long: `samsa is an event-streaming platform that speaks the Apache Kafka protocol:
topics, partitions, offsets, replication and consumer groups, in one binary
without a JVM or ZooKeeper. Every Kafka client and tool works against it.

The client commands below talk to any Kafka-compatible cluster. Point them at
it with --brokers host:port[,host:port] or $SAMSA_BROKERS (default
127.0.0.1:9092).

Examples:
  samsa topic create orders -p 3
  seq 10 | samsa produce orders
  samsa consume orders --exit-at-end
  samsa cluster info`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())
	})
	root.AddCommand(
		topic.NewCommand(),
		produce.NewCommand(),
		consume.NewCommand(),
		cluster.NewCommand(),
	)

	root.AddCommand(server.NewCommand(), bench.NewCommand(), group.NewCommand())
	root.AddCommand(dev.NewCommand())

	return root
}
