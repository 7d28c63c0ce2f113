//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// The randomized fault test's knobs.
const (
	// envFaultSeconds sets the length of the fault phase in seconds (a
	// soak: SAMSA_FAULT_SECONDS=600).
	envFaultSeconds = "SAMSA_FAULT_SECONDS"
	// envFaultSeed replays a schedule: the seed a run logged.
	envFaultSeed = "SAMSA_FAULT_SEED"
	// envFaultLogDir keeps the nodes' logs (node-N.log) in a directory
	// that outlives the test.
	envFaultLogDir = "SAMSA_FAULT_LOGDIR"
	// defaultFaultPhase keeps the whole test near a minute in CI.
	defaultFaultPhase = 25 * time.Second
	// maxFaultPhase bounds SAMSA_FAULT_SECONDS (a day).
	maxFaultPhase = 24 * time.Hour
	// maxFaults bounds the number of faults of one run, whatever its length.
	maxFaults = 10_000
	// faultRecoveryTimeout bounds the wait for every node to serve again
	// after one fault ends.
	faultRecoveryTimeout = 30 * time.Second
)

// faultKinds are the faults TestRandomFaults injects, one at a time.
var faultKinds = []string{"kill", "pause", "isolate", "partition"}

// TestRandomFaults runs two idempotent acks=all producers and a committing
// consumer-group member against a 3-node cluster (a 3-partition RF 3 topic
// with min.insync.replicas=2) while a seeded random schedule SIGKILLs and
// restarts nodes, pauses them with SIGSTOP, isolates them and splits the
// cluster (links reset or packets silently dropped), one fault at a time with recovery gaps. Afterwards the cluster
// is healed and must recover every ISR; nothing acknowledged may be lost,
// duplicated or reordered, no read may disagree with the final log, the
// group's commits may never go backwards, and the replicas must agree on
// disk after a clean stop.
func TestRandomFaults(t *testing.T) {
	phase := faultPhase(t)
	seed := faultSeed(t)
	t.Logf("seed %d (rerun with %s=%d), fault phase %v (%s)", seed, envFaultSeed, seed, phase, envFaultSeconds)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5a45a))

	ctx, cancel := context.WithTimeout(context.Background(), phase+4*time.Minute)
	defer cancel()
	s := startScenario(t, ctx, scenarioOptions{
		Cluster: procluster.Options{Nodes: 3, LogDir: os.Getenv(envFaultLogDir)},
		Topic:   "random-faults", Partitions: 3, RF: 3, Producers: 2, Group: "random-faults-group",
	})
	c := s.c

	var schedule []string
	begin := time.Now()
	for i := 0; i < maxFaults && time.Since(begin) < phase; i++ {
		ackedBefore, _, _ := s.load.Counts()
		desc := injectFault(t, ctx, c, rng, begin)
		ackedAfter, _, _ := s.load.Counts()
		desc += fmt.Sprintf(" [%d acks meanwhile]", ackedAfter-ackedBefore)
		t.Log(desc)
		schedule = append(schedule, desc)
		faultWait(t, ctx, randDuration(rng, time.Second, 3*time.Second))
	}
	t.Logf("fault schedule (seed %d, %d faults):\n%s", seed, len(schedule), strings.Join(schedule, "\n"))

	// Heal everything and wait for full recovery.
	c.Heal()
	for _, n := range c.Nodes() {
		if n.Paused() {
			c.Cont(n.ID)
		}
		if !n.Running() {
			c.Restart(n.ID)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
	if err := c.WaitReady(rctx); err != nil {
		rcancel()
		t.Fatalf("after the faults: %v", err)
	}
	recovered := time.Now()
	if err := WaitFullISR(rctx, s.adm, s.opt.Topic, 3); err != nil {
		rcancel()
		t.Fatalf("after the faults: %v", err)
	}
	rcancel()
	t.Logf("every partition has a full ISR %v after the cluster was healed", time.Since(recovered).Round(time.Millisecond))
	s.waitProgress(t, ctx, "after the faults")
	s.check(t, ctx)
	if t.Failed() {
		t.Logf("replay this schedule with %s=%d", envFaultSeed, seed)
	}
}

// injectFault applies one random fault, waits its random duration, lifts
// it, and waits until every node serves again. It returns a description
// for the schedule, timed from begin.
func injectFault(t *testing.T, ctx context.Context, c *procluster.Cluster, rng *rand.Rand, begin time.Time) string {
	t.Helper()
	nodes := c.Nodes()
	victim := nodes[rng.IntN(len(nodes))].ID
	kind := faultKinds[rng.IntN(len(faultKinds))]
	at := time.Since(begin).Seconds()
	var desc string
	switch kind {
	case "kill":
		hold := randDuration(rng, 500*time.Millisecond, 3*time.Second)
		c.Kill(victim)
		faultWait(t, ctx, hold)
		c.Restart(victim)
		desc = fmt.Sprintf("SIGKILL node %d, restart after %v", victim, hold)
	case "pause":
		hold := randDuration(rng, time.Second, 4*time.Second)
		c.Stop(victim)
		faultWait(t, ctx, hold)
		c.Cont(victim)
		desc = fmt.Sprintf("SIGSTOP node %d for %v", victim, hold)
	case "isolate":
		hold := randDuration(rng, 2*time.Second, 6*time.Second)
		mode := randCutMode(c, rng)
		c.Isolate(victim)
		faultWait(t, ctx, hold)
		c.Heal()
		desc = fmt.Sprintf("isolate node %d for %v (%v)", victim, hold, mode)
	case "partition":
		hold := randDuration(rng, 2*time.Second, 6*time.Second)
		mode := randCutMode(c, rng)
		var rest []int32
		for _, n := range nodes {
			if n.ID != victim {
				rest = append(rest, n.ID)
			}
		}
		c.Partition([]int32{victim}, rest)
		faultWait(t, ctx, hold)
		c.Heal()
		desc = fmt.Sprintf("partition {%d} | %v for %v (%v)", victim, rest, hold, mode)
	}
	rctx, cancel := context.WithTimeout(ctx, faultRecoveryTimeout)
	defer cancel()
	start := time.Now()
	if err := c.WaitReady(rctx); err != nil {
		t.Fatalf("t+%.1fs %s: the cluster did not recover: %v", at, desc, err)
	}
	return fmt.Sprintf("t+%5.1fs %s; every node serves %v later", at, desc, time.Since(start).Round(time.Millisecond))
}

// randCutMode picks how the next cut looks to the nodes (links reset or
// packets dropped), sets it on c and returns it.
func randCutMode(c *procluster.Cluster, rng *rand.Rand) procluster.CutMode {
	mode := procluster.ResetLinks
	if rng.IntN(2) == 1 {
		mode = procluster.DropPackets
	}
	c.SetCutMode(mode)
	return mode
}

// faultWait waits d (a step of the fault schedule), or fails the test if
// ctx ends first.
func faultWait(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		t.Fatalf("fault schedule: %v", ctx.Err())
	case <-timer.C:
	}
}

// randDuration returns a duration in [lo, hi), in whole milliseconds.
func randDuration(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	ms := lo.Milliseconds() + rng.Int64N((hi - lo).Milliseconds())
	return time.Duration(ms) * time.Millisecond
}

// faultPhase returns $SAMSA_FAULT_SECONDS as a duration, or
// defaultFaultPhase.
func faultPhase(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(envFaultSeconds)
	if v == "" {
		return defaultFaultPhase
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || time.Duration(n)*time.Second > maxFaultPhase {
		t.Fatalf("%s=%q: want a number of seconds in 1..%d", envFaultSeconds, v, int(maxFaultPhase.Seconds()))
	}
	return time.Duration(n) * time.Second
}

// faultSeed returns $SAMSA_FAULT_SEED, or a seed from the clock.
func faultSeed(t *testing.T) int64 {
	t.Helper()
	v := os.Getenv(envFaultSeed)
	if v == "" {
		return time.Now().UnixNano()
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an integer: %v", envFaultSeed, v, err)
	}
	return n
}
