// Package testserver starts a real samsa node in-process for tests: Kafka
// and controller listeners on free loopback ports, data in a temporary
// directory, stopped when the test ends.
package testserver

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/server"
)

// Options tune the node; Set holds extra properties by Kafka name.
type Options struct {
	DataDir string            // "" = a new temporary directory
	Set     map[string]string // e.g. {"log.fsync.on.ack": "true"}
	Verbose bool              // log at debug level to the test log
}

// Start starts a node and registers its shutdown with t.Cleanup.
func Start(t testing.TB, opts Options) *server.Node {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	n, err := StartNode(opts)
	if err != nil {
		t.Fatalf("start samsa: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("stop samsa: %v", err)
		}
	})
	return n
}

// StartNode starts a node without a testing.TB (for TestMain and
// benchmarks); the caller closes it.
func StartNode(opts Options) (*server.Node, error) {
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "samsa-test-")
		if err != nil {
			return nil, err
		}
		opts.DataDir = dir
	}
	env := []string{
		"SAMSA_DATA_DIR=" + opts.DataDir,
		"SAMSA_KAFKA_ADDR=127.0.0.1:0",
		"SAMSA_CONTROLLER_ADDR=127.0.0.1:0",
		"SAMSA_HTTP_ADDR=",
	}
	for k, v := range opts.Set {
		env = append(env, config.EnvName(k)+"="+v)
	}
	cfg, err := config.Load(nil, env)
	if err != nil {
		return nil, err
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return server.Start(ctx, cfg, lg)
}
