//go:build unix

package procluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/dev"
)

// Probe timing of the waits: each Metadata probe gets probeTimeout, and a
// failed round is retried every pollInterval until the context ends.
const (
	probeTimeout = 2 * time.Second
	pollInterval = 100 * time.Millisecond
)

// WaitReady waits until every live node (running and not paused) lists
// every live node as a registered, unfenced broker in its Metadata. It
// returns at once with an error, naming the node and quoting its log, if a
// node the harness did not stop has exited; otherwise it returns ctx's error
// with the last reason the cluster was not ready.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return c.waitMetadata(ctx, "ready", func(live []int32, node int32, listed []int32) error {
		for _, id := range live {
			if !slices.Contains(listed, id) {
				return fmt.Errorf("node %d lists brokers %v, without live node %d", node, listed, id)
			}
		}
		return nil
	})
}

// WaitFenced waits until no live node other than id lists id as a broker in
// its Metadata: the controller has fenced it (or it was unregistered).
func (c *Cluster) WaitFenced(ctx context.Context, id int32) error {
	return c.waitMetadata(ctx, fmt.Sprintf("node %d fenced", id), func(_ []int32, node int32, listed []int32) error {
		if node != id && slices.Contains(listed, id) {
			return fmt.Errorf("node %d still lists node %d among brokers %v", node, id, listed)
		}
		return nil
	})
}

// waitMetadata polls every live node's Metadata through its Kafka proxy until
// check accepts each one's broker list.
func (c *Cluster) waitMetadata(ctx context.Context, what string, check func(live []int32, node int32, listed []int32) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := c.checkMetadata(ctx, check)
		if err == nil {
			return nil
		}
		var exit exitError
		if errors.As(err, &exit) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("procluster: waiting for %s: %w; last: %v", what, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// exitError reports a node that ended without the harness asking.
type exitError struct{ msg string }

func (e exitError) Error() string { return e.msg }

// checkMetadata runs one round of waitMetadata.
func (c *Cluster) checkMetadata(ctx context.Context, check func(live []int32, node int32, listed []int32) error) error {
	var live []*Node
	var liveIDs []int32
	for _, n := range c.Nodes() {
		if msg := n.unexpectedExit(); msg != "" {
			return exitError{msg}
		}
		if n.live() {
			live = append(live, n)
			liveIDs = append(liveIDs, n.ID)
		}
	}
	if len(live) == 0 {
		return errors.New("no node is running")
	}
	for _, n := range live {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		brokers, err := dev.Brokers(pctx, n.KafkaAddr)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", describe(n), err)
		}
		if err := dev.CheckIdentity(brokers, n.ID, n.KafkaAddr); err != nil {
			return fmt.Errorf("%s: %w", describe(n), err)
		}
		listed := make([]int32, len(brokers))
		for i, b := range brokers {
			listed[i] = b.ID
		}
		if err := check(liveIDs, n.ID, listed); err != nil {
			return err
		}
	}
	return nil
}

// Client returns a franz-go client seeded with every node's proxied Kafka
// address, closed when t ends. opts come after the seeds, so they may
// override anything.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
	if err != nil {
		t.Fatalf("procluster: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client of the cluster, closed when t ends.
func (c *Cluster) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t))
}
