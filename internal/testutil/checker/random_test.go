package checker

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

type opKind int

const (
	opSent opKind = iota
	opAcked
	opFailed
)

// op is one producer event.
type op struct {
	kind opKind
	r    Record
	err  error
	// partition is where the generator put (or would have put) the record,
	// even when the Sent event does not know it.
	partition int32
}

type commit struct {
	partition int32
	offset    int64
}

// scenario is a run: each producer's, consumer's and group's events in
// order, and the final logs of topic "t".
type scenario struct {
	producers map[string][]op
	consumers map[string][]Record
	groups    map[string][]commit
	finals    map[int32][]Record
}

func (s *scenario) clone() *scenario {
	c := &scenario{
		producers: make(map[string][]op), consumers: make(map[string][]Record),
		groups: make(map[string][]commit), finals: make(map[int32][]Record),
	}
	for k, v := range s.producers {
		c.producers[k] = slices.Clone(v)
	}
	for k, v := range s.consumers {
		c.consumers[k] = slices.Clone(v)
	}
	for k, v := range s.groups {
		c.groups[k] = slices.Clone(v)
	}
	for k, v := range s.finals {
		c.finals[k] = slices.Clone(v)
	}
	return c
}

// generate builds a correct run: producers send to random partitions, the
// "broker" appends in send order, outcomes are a mix of acks, failures of
// both kinds (indefinite ones written or not) and no answers; consumers
// read ranges of the final logs; groups commit non-decreasing offsets.
func generate(rng *rand.Rand, producers, partitions, sends int) *scenario {
	s := &scenario{producers: make(map[string][]op), consumers: make(map[string][]Record),
		groups: make(map[string][]commit), finals: make(map[int32][]Record)}
	for p := range int32(partitions) {
		s.finals[p] = []Record{}
	}
	seqs := make([]int, producers)
	pending := make([][]op, producers)
	timeout := fmt.Errorf("record timed out: %w", context.DeadlineExceeded)
	for range sends {
		pi := rng.IntN(producers)
		name := fmt.Sprintf("p%d", pi)
		value := fmt.Sprintf("%s-%d", name, seqs[pi])
		seqs[pi]++
		part := rng.Int32N(int32(partitions))
		sentPart := part
		if rng.IntN(2) == 0 {
			sentPart = -1
		}
		s.producers[name] = append(s.producers[name], op{kind: opSent, r: rec(sentPart, -1, value), partition: part})
		write := func() int64 {
			off := int64(len(s.finals[part]))
			s.finals[part] = append(s.finals[part], rec(part, off, value))
			return off
		}
		var outcome *op
		switch n := rng.IntN(100); {
		case n < 70:
			outcome = &op{kind: opAcked, r: rec(part, write(), value), partition: part}
		case n < 78:
			write()
			outcome = &op{kind: opFailed, r: rec(part, -1, value), err: timeout, partition: part}
		case n < 86:
			outcome = &op{kind: opFailed, r: rec(part, -1, value), err: kerr.NotEnoughReplicas, partition: part}
		case n < 92:
			outcome = &op{kind: opFailed, r: rec(part, -1, value), err: kerr.MessageTooLarge, partition: part}
		default:
			if rng.IntN(2) == 0 {
				write()
			}
		}
		if outcome != nil {
			pending[pi] = append(pending[pi], *outcome)
		}
		if rng.IntN(3) == 0 { // answers arrive late and out of order
			rng.Shuffle(len(pending[pi]), func(i, j int) { pending[pi][i], pending[pi][j] = pending[pi][j], pending[pi][i] })
			s.producers[name] = append(s.producers[name], pending[pi]...)
			pending[pi] = nil
		}
	}
	for pi := range pending {
		name := fmt.Sprintf("p%d", pi)
		s.producers[name] = append(s.producers[name], pending[pi]...)
	}
	for c := range 3 {
		name := fmt.Sprintf("c%d", c)
		for p := range int32(partitions) {
			log := s.finals[p]
			if len(log) == 0 {
				continue
			}
			from := rng.IntN(len(log))
			to := from + rng.IntN(len(log)-from+1)
			s.consumers[name] = append(s.consumers[name], log[from:to]...)
		}
	}
	for g := range 2 {
		name := fmt.Sprintf("g%d", g)
		for p := range int32(partitions) {
			end := int64(len(s.finals[p]))
			var at int64
			for range 5 {
				at = min(end, at+rng.Int64N(end/3+2))
				s.groups[name] = append(s.groups[name], commit{p, at})
			}
		}
	}
	return s
}

// replay feeds s to a new history, one goroutine per producer, consumer
// and group, and then gives the final logs.
func replay(s *scenario) *History {
	h := NewHistory()
	var wg sync.WaitGroup
	for name, ops := range s.producers {
		wg.Go(func() {
			for _, o := range ops {
				switch o.kind {
				case opSent:
					h.Sent(name, o.r)
				case opAcked:
					h.Acked(name, o.r)
				case opFailed:
					h.Failed(name, o.r, o.err)
				}
			}
		})
	}
	for name, recs := range s.consumers {
		wg.Go(func() {
			for _, r := range recs {
				h.Consumed(name, r)
			}
		})
	}
	for name, commits := range s.groups {
		wg.Go(func() {
			for _, c := range commits {
				h.Committed(name, "t", c.partition, c.offset)
			}
		})
	}
	wg.Wait()
	for p, recs := range s.finals {
		h.Final("t", p, recs)
	}
	return h
}

// pick returns a random element of xs satisfying keep.
func pick[T any](rng *rand.Rand, xs []T, keep func(T) bool) (T, bool) {
	var found []T
	for _, x := range xs {
		if keep(x) {
			found = append(found, x)
		}
	}
	if len(found) == 0 {
		var zero T
		return zero, false
	}
	return found[rng.IntN(len(found))], true
}

// allOps lists every producer op of s in a deterministic order.
func allOps(s *scenario) []op {
	var out []op
	for _, name := range slices.Sorted(maps.Keys(s.producers)) {
		out = append(out, s.producers[name]...)
	}
	return out
}

func isAcked(o op) bool { return o.kind == opAcked }

// faults injects one kind of fault into a correct scenario; each returns
// false when the scenario offers no place for it.
var faults = []struct {
	name, category string
	inject         func(rng *rand.Rand, s *scenario) bool
}{
	{"drop an acked record", "lost", func(rng *rand.Rand, s *scenario) bool {
		o, ok := pick(rng, allOps(s), isAcked)
		if ok {
			s.finals[o.partition] = slices.DeleteFunc(s.finals[o.partition], func(r Record) bool { return r.Value == o.r.Value })
		}
		return ok
	}},
	{"write an acked record twice", "duplicated", func(rng *rand.Rand, s *scenario) bool {
		o, ok := pick(rng, allOps(s), isAcked)
		if ok {
			log := s.finals[o.partition]
			s.finals[o.partition] = append(log, rec(o.partition, int64(len(log)), o.r.Value))
		}
		return ok
	}},
	{"swap two acked records of one producer", "reordered", func(rng *rand.Rand, s *scenario) bool {
		producerOf := make(map[string]string) // acked value -> its producer
		for name, ops := range s.producers {
			for _, o := range ops {
				if o.kind == opAcked {
					producerOf[o.r.Value] = name
				}
			}
		}
		for _, p := range rng.Perm(len(s.finals)) {
			log := s.finals[int32(p)]
			last := make(map[string]int) // producer -> position of its latest acked record
			for j, r := range log {
				producer, ok := producerOf[r.Value]
				if !ok {
					continue
				}
				if i, seen := last[producer]; seen {
					log[i].Value, log[j].Value = log[j].Value, log[i].Value
					return true
				}
				last[producer] = j
			}
		}
		return false
	}},
	{"acknowledge at a wrong offset", "offset mismatch", func(rng *rand.Rand, s *scenario) bool {
		for _, name := range slices.Sorted(maps.Keys(s.producers)) {
			for i, o := range s.producers[name] {
				if o.kind == opAcked && rng.IntN(4) == 0 {
					s.producers[name][i].r.Offset += 1 + rng.Int64N(5)
					return true
				}
			}
		}
		return false
	}},
	{"consumer reads a value the log does not hold", "offset mismatch", func(rng *rand.Rand, s *scenario) bool {
		for _, name := range slices.Sorted(maps.Keys(s.consumers)) {
			if recs := s.consumers[name]; len(recs) > 0 {
				recs[rng.IntN(len(recs))].Value = "truncated-away"
				return true
			}
		}
		return false
	}},
	{"consumer reads past the final end", "offset mismatch", func(rng *rand.Rand, s *scenario) bool {
		p := rng.Int32N(int32(len(s.finals)))
		s.consumers["c0"] = append(s.consumers["c0"], rec(p, int64(len(s.finals[p])), "p0-0"))
		return true
	}},
	{"a record nobody sent", "unexpected records", func(rng *rand.Rand, s *scenario) bool {
		p := rng.Int32N(int32(len(s.finals)))
		s.finals[p] = append(s.finals[p], rec(p, int64(len(s.finals[p])), "ghost"))
		return true
	}},
	{"a definitely failed record written", "unexpected records", func(rng *rand.Rand, s *scenario) bool {
		o, ok := pick(rng, allOps(s), func(o op) bool { return o.kind == opFailed && IsDefinite(o.err) })
		if ok {
			log := s.finals[o.partition]
			s.finals[o.partition] = append(log, rec(o.partition, int64(len(log)), o.r.Value))
		}
		return ok
	}},
	{"a commit goes back", "commit regressions", func(rng *rand.Rand, s *scenario) bool {
		for _, g := range slices.Sorted(maps.Keys(s.groups)) {
			cs := s.groups[g]
			c, ok := pick(rng, cs, func(c commit) bool { return c.offset > 0 })
			if ok {
				s.groups[g] = append(cs, commit{c.partition, c.offset - 1 - rng.Int64N(c.offset)})
				return true
			}
		}
		return false
	}},
	{"a commit beyond the end", "commit regressions", func(rng *rand.Rand, s *scenario) bool {
		p := rng.Int32N(int32(len(s.finals)))
		s.groups["g0"] = append(s.groups["g0"], commit{p, int64(len(s.finals[p])) + 1 + rng.Int64N(3)})
		return true
	}},
}

func TestRandomHistories(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	applied := make(map[string]int)
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0x5a45a))
		base := generate(rng, 1+rng.IntN(5), 1+rng.IntN(4), 50+rng.IntN(400))
		r := replay(base).Check()
		if !r.OK() {
			t.Fatalf("seed %d: a correct history fails:\n%s", seed, r)
		}
		if r.Sent == 0 || r.FinalRecords == 0 {
			t.Fatalf("seed %d: empty run:\n%s", seed, r)
		}
		for _, f := range faults {
			s := base.clone()
			if !f.inject(rng, s) {
				continue
			}
			applied[f.name]++
			r := replay(s).Check()
			if len(problemCounts(r)) == 0 || problemCounts(r)[f.category] == 0 {
				t.Errorf("seed %d: fault %q not reported as %s:\n%s", seed, f.name, f.category, r)
			}
		}
	}
	t.Logf("faults applied per kind over %d seeds: %v", seeds, applied)
	for _, f := range faults {
		if applied[f.name] == 0 {
			t.Errorf("fault %q never applied", f.name)
		}
	}
}

// BenchmarkCheck measures Check on a run of 100k sends over 6 partitions.
func BenchmarkCheck(b *testing.B) {
	h := replay(generate(rand.New(rand.NewPCG(1, 2)), 8, 6, 100_000))
	for b.Loop() {
		if r := h.Check(); !r.OK() {
			b.Fatal(r)
		}
	}
}
