// Package server is the `samsa server` command: it loads the node's
// configuration (defaults, config file, SAMSA_* environment, flags), starts
// the node and stops it cleanly on SIGINT or SIGTERM.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/server"
)

// NewCommand returns `samsa server`.
func NewCommand() *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a samsa node (Kafka broker and metadata quorum member)",
		Args:  cobra.NoArgs,
	}
	flags := config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Long = `Run a samsa node: a Kafka-protocol broker with its metadata (topics,
partitions, configs) kept in an embedded Raft log. With no flags it runs a
single-node cluster on 127.0.0.1:9092 with data in ./samsa-data.

Settings use Kafka's property names. Each comes from, in increasing
priority: its default, the config file (--config, server.properties syntax),
the environment (SAMSA_<NAME> with dots as underscores, e.g.
SAMSA_LOG_RETENTION_MS), and flags (the named flags below, or --set for any
property).

Examples:
  samsa server
  samsa server --data-dir /var/lib/samsa --kafka-addr 0.0.0.0:9092 --advertised-addr kafka1:9092
  samsa server --config server.properties --set num.partitions=6
  SAMSA_AUTO_CREATE_TOPICS_ENABLE=false samsa server

Properties:
` + propertyHelp()
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(flags, os.Environ())
		if err != nil {
			return err
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(logLevel)); err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		lg := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		node, err := server.Start(startCtx, cfg, lg)
		cancel()
		if err != nil {
			return err
		}
		<-ctx.Done()
		lg.Info("shutting down")
		shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelShutdown()
		if err := node.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		lg.Info("stopped cleanly")
		return nil
	}
	return cmd
}

// propertyHelp lists every property with its default.
func propertyHelp() string {
	var b strings.Builder
	for _, name := range config.Names() {
		def, _ := config.Default(name)
		fmt.Fprintf(&b, "  %-34s %s (default %q)\n", name, config.Doc(name), def)
	}
	return b.String()
}
