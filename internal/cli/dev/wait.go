package dev

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Probe timing: each probe gets probeTimeout; failed probes are repeated
// every pollInterval until the overall deadline.
const (
	probeTimeout = 2 * time.Second
	pollInterval = 100 * time.Millisecond
)

// waitUp waits, showing progress, until every node answers ApiVersions and
// then until every node lists all the nodes as brokers in Metadata. It fails
// as soon as a node exits, or when timeout passes, naming the node and its
// log.
func (c *cluster) waitUp(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	for _, p := range c.procs {
		fmt.Fprintf(c.stderr, "waiting for node %d to answer on %s ...", p.Spec.ID, p.Spec.KafkaAddr)
		err := poll(ctx, p, func(ctx context.Context) error { return ProbeAPIVersions(ctx, p.Spec.KafkaAddr) })
		if err != nil {
			fmt.Fprintln(c.stderr, " failed")
			return nodeError(p, "did not answer ApiVersions", time.Since(start), err)
		}
		fmt.Fprintf(c.stderr, " up (%.1fs)\n", time.Since(start).Seconds())
	}
	want := make([]int32, len(c.procs))
	for i, p := range c.procs {
		want[i] = p.Spec.ID
	}
	fmt.Fprintf(c.stderr, "waiting for every node to list %d broker(s) ...", len(want))
	for _, p := range c.procs {
		err := poll(ctx, p, func(ctx context.Context) error {
			brokers, err := Brokers(ctx, p.Spec.KafkaAddr)
			if err != nil {
				return err
			}
			if err := CheckIdentity(brokers, p.Spec.ID, p.Spec.KafkaAddr); err != nil {
				return err
			}
			ids := make([]int32, len(brokers))
			for i, b := range brokers {
				ids[i] = b.ID
			}
			if !slices.Equal(ids, want) {
				return fmt.Errorf("Metadata lists brokers %v, want %v", ids, want)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(c.stderr, " failed")
			return nodeError(p, "did not list every broker", time.Since(start), err)
		}
	}
	fmt.Fprintf(c.stderr, " ok (%.1fs)\n", time.Since(start).Seconds())
	return nil
}

// errExited reports that a node's process ended while it was awaited.
var errExited = errors.New("process exited")

// poll runs check until it succeeds, p exits or ctx ends; it returns the
// last error of check (or errExited).
func poll(ctx context.Context, p *Process, check func(ctx context.Context) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if p.Exited() {
			return errExited
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := check(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-p.Done():
		case <-t.C:
		}
	}
}

// nodeError explains why node p is not ready, with the end of its log.
func nodeError(p *Process, what string, waited time.Duration, err error) error {
	var head string
	if errors.Is(err, errExited) {
		head = fmt.Sprintf("node %d exited while starting (%s)", p.Spec.ID, exitText(p.ExitErr()))
	} else {
		head = fmt.Sprintf("node %d (%s) %s within %.1fs: %v", p.Spec.ID, p.Spec.KafkaAddr, what, waited.Seconds(), err)
	}
	return fmt.Errorf("%s\nthe last lines of its log %s:\n%s", head, p.Spec.LogPath,
		indent(LogTail(p.Spec.LogPath, logTailLines)))
}

// indent prefixes every line of s with two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
