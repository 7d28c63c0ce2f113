// Package dev is the `samsa dev` command: a local cluster for development,
// N `samsa server` processes on 127.0.0.1 started and supervised by one
// command.
//
// Layout, for --dir D and --base-port B (node ids 1..N):
//
//	D/samsa-dev.json    the cluster's shape (nodes, base port), checked on restart
//	D/node-i/           node i's data directory
//	D/node-i/samsa.log  node i's output, appended on every start
//	Kafka       127.0.0.1:B+i-1
//	controller  127.0.0.1:B+100+i-1  (the metadata quorum listener)
//	HTTP        127.0.0.1:B+200+i-1  (metrics, admin API, console)
//
// The nodes with the lowest ids are the quorum voters (see VoterCount); the
// rest are broker-only nodes that register with them. Restarting with the
// same --dir reuses the data.
//
// The package also exports the pieces the process-cluster test harness
// (internal/testutil/procluster) shares with the command: NodeSpec and its
// command line, Process, the readiness probes and LogTail.
//
// Goroutines: run owns the children. Each Process has one goroutine waiting
// for its exit; supervise watches those exits and the command's context
// (cancelled by SIGINT/SIGTERM in cmd/samsa) and stops every child before
// returning.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// Defaults of the flags.
const (
	DefaultDir      = "./samsa-dev"
	DefaultBasePort = 19092
	DefaultTimeout  = 60 * time.Second
	DefaultGrace    = 20 * time.Second
)

// logTailLines is how many lines of a node's log are shown when it fails.
const logTailLines = 20

// options are the command's flags.
type options struct {
	nodes    int
	dir      string
	basePort int
	sets     []string
	format   format.Format
	timeout  time.Duration
	grace    time.Duration
}

// NewCommand returns `samsa dev`.
func NewCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local cluster of samsa nodes for development",
		Long: `Run a local cluster for development: --nodes separate samsa server
processes on 127.0.0.1, node ids 1..N, each with its data in DIR/node-N and
its log in DIR/node-N/samsa.log. The lowest ids are the metadata quorum voters
(1 voter for 1-2 nodes, 3 for 3-4, 5 from 5 nodes on); the others are
broker-only nodes.

Ports come from --base-port B: node i listens for Kafka on B+i-1, for the
controller on B+100+i-1 and for HTTP on B+200+i-1.

The command waits until every node answers and lists all the brokers, prints
the nodes and the bootstrap servers, and runs until Ctrl-C (SIGINT) or SIGTERM,
which it passes on to the nodes (SIGTERM, then SIGKILL after --grace). A node
that exits on its own is reported with the end of its log; the others keep
running. Starting again with the same --dir reuses the data.

Examples:
  samsa dev
  samsa dev --nodes 3
  samsa dev --nodes 3 --dir /tmp/samsa-dev --base-port 29092 --set num.partitions=3
  samsa dev --nodes 3 --set broker.rack=rack-{id}
  samsa dev --nodes 3 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&o.nodes, "nodes", "n", 1, "number of nodes (1 to 100)")
	fs.StringVar(&o.dir, "dir", DefaultDir, "directory holding every node's data and log")
	fs.IntVar(&o.basePort, "base-port", DefaultBasePort, "Kafka port of node 1; other ports derive from it")
	fs.StringArrayVar(&o.sets, "set", nil,
		"set a property on every node, e.g. --set num.partitions=3; {id} becomes the node's id, as in --set broker.rack=rack-{id} (repeatable)")
	fs.DurationVar(&o.timeout, "timeout", DefaultTimeout, "how long to wait for the cluster to come up")
	fs.DurationVar(&o.grace, "grace", DefaultGrace, "how long nodes get to stop after SIGTERM before SIGKILL")
	format.AddFlag(fs, &o.format)
	return cmd
}

// run starts the cluster, reports it and supervises it until ctx ends.
func run(ctx context.Context, stdout, stderr io.Writer, o options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.timeout <= 0 || o.grace <= 0 {
		return errors.New("--timeout and --grace must be positive")
	}
	props, err := parseSets(o.sets)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	specs, err := plan(dir, o.nodes, o.basePort, props)
	if err != nil {
		return err
	}
	if err := checkLayout(dir, layout{Nodes: o.nodes, BasePort: o.basePort}); err != nil {
		return err
	}
	if err := checkPortsFree(specs); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("dev: find the samsa binary: %w", err)
	}
	if err := writeLayout(dir, layout{Nodes: o.nodes, BasePort: o.basePort}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "starting %d node(s) in %s (%d voter(s))\n", len(specs), dir, VoterCount(len(specs)))
	c := &cluster{stderr: stderr, grace: o.grace}
	for _, s := range specs {
		p, err := StartProcess(bin, s, nil)
		if err != nil {
			c.stopAll()
			return err
		}
		c.procs = append(c.procs, p)
		fmt.Fprintf(stderr, "  node %d: pid %d, log %s\n", s.ID, p.PID(), s.LogPath)
	}
	if err := c.waitUp(ctx, o.timeout); err != nil {
		interrupted := ctx.Err() != nil
		c.stopAll()
		if interrupted {
			return errors.New("interrupted before the cluster was up")
		}
		return err
	}
	if err := printCluster(stdout, o.format, c.procs); err != nil {
		c.stopAll()
		return err
	}
	fmt.Fprintln(stderr, "cluster is up; press Ctrl-C (or send SIGTERM) to stop it")
	return c.supervise(ctx)
}

// cluster is the set of child processes run owns.
type cluster struct {
	procs  []*Process
	stderr io.Writer
	grace  time.Duration
}

// supervise reports children that exit on their own and stops them all when
// ctx ends. It returns an error only if every node has exited.
func (c *cluster) supervise(ctx context.Context) error {
	exits := make(chan *Process, len(c.procs))
	for _, p := range c.procs {
		go func() {
			<-p.Done()
			exits <- p
		}()
	}
	alive := len(c.procs)
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(c.stderr, "stopping %d node(s)\n", alive)
			return c.stopAll()
		case p := <-exits:
			alive--
			fmt.Fprintf(c.stderr, "node %d (pid %d) exited unexpectedly (%s); the last lines of %s:\n%s\n",
				p.Spec.ID, p.PID(), exitText(p.ExitErr()), p.Spec.LogPath, indent(LogTail(p.Spec.LogPath, logTailLines)))
			if alive == 0 {
				return fmt.Errorf("every node has exited; see the logs under %s", filepath.Dir(p.Spec.DataDir))
			}
			fmt.Fprintf(c.stderr, "%d node(s) keep running\n", alive)
		}
	}
}

// stopAll stops every running child at once: SIGTERM, then SIGKILL after
// the grace period. It returns an error if a child could not be ended.
func (c *cluster) stopAll() error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range c.procs {
		if p.Exited() {
			continue
		}
		wg.Go(func() {
			killed, err := p.Terminate(c.grace)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case killed:
				fmt.Fprintf(c.stderr, "node %d did not stop within %v: killed\n", p.Spec.ID, c.grace)
			default:
				fmt.Fprintf(c.stderr, "node %d stopped (%s)\n", p.Spec.ID, exitText(p.ExitErr()))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// exitText describes how a process ended.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
