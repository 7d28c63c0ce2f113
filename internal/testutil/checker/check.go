package checker

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// location is where a value sits in the final logs.
type location struct {
	tp     TopicPartition
	offset int64
}

func (l location) String() string { return fmt.Sprintf("%s@%d", l.tp, l.offset) }

// latest is the highest-sequence acknowledged record of one producer seen
// so far while walking a partition's final log.
type latest struct {
	seq    int
	value  string
	offset int64
}

// checkRun holds the state of one Check.
type checkRun struct {
	h *History
	r Report
	// found maps each value to its first location in the final logs.
	found map[valueKey]location
	// values maps each partition's final offsets to their values.
	values map[TopicPartition]map[int64]string
	// ends is each final log's end: its last offset + 1 (0 when empty).
	ends map[TopicPartition]int64
}

// Check applies the rules of the package documentation to everything fed
// so far and returns the verdicts. It does not change the history and may
// be called more than once.
func (h *History) Check() Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &checkRun{
		h:      h,
		found:  make(map[valueKey]location),
		values: make(map[TopicPartition]map[int64]string, len(h.finals)),
		ends:   make(map[TopicPartition]int64, len(h.finals)),
	}
	c.count()
	for _, tp := range sortedPartitions(h.finals) {
		c.checkFinal(tp, h.finals[tp])
	}
	c.checkAcked()
	c.checkConsumed()
	c.checkCommits()
	c.r.Incomplete = append(c.r.Incomplete, h.incomplete...)
	if h.dropped > 0 {
		c.r.Incomplete = append(c.r.Incomplete, fmt.Sprintf("%d more inconsistencies in the history not kept", h.dropped))
	}
	return c.r
}

// count fills the report's counters of sends and their outcomes.
func (c *checkRun) count() {
	for _, s := range c.h.sends {
		c.r.Sent++
		switch {
		case s.acked:
			c.r.Acked++
		case s.failed && s.definite:
			c.r.FailedDefinite++
		case s.failed:
			c.r.FailedIndefinite++
		default:
			c.r.Unanswered++
		}
	}
	c.r.ConsumedOffsets = len(c.h.consumed)
	for _, offs := range c.h.commits {
		c.r.Commits += len(offs)
	}
}

// checkFinal walks one partition's final log: offsets increasing, no value
// twice, every value sent (to this partition, not definitely failed),
// acknowledged values at their acknowledged offset and in their producer's
// send order.
func (c *checkRun) checkFinal(tp TopicPartition, recs []Record) {
	vals := make(map[int64]string, len(recs))
	c.values[tp] = vals
	if n := len(recs); n > 0 {
		c.ends[tp] = max(recs[n-1].Offset+1, 0)
	} else {
		c.ends[tp] = 0
	}
	c.r.FinalRecords += len(recs)
	order := make(map[string]latest) // producer -> highest acked send seen so far
	for i, rec := range recs {
		here := location{tp, rec.Offset}
		if i > 0 && rec.Offset <= recs[i-1].Offset {
			c.r.OffsetMismatch = append(c.r.OffsetMismatch, fmt.Sprintf(
				"%s: final log offsets not increasing: offset %d (%q) at position %d follows offset %d",
				tp, rec.Offset, rec.Value, i, recs[i-1].Offset))
		}
		if _, ok := vals[rec.Offset]; !ok {
			vals[rec.Offset] = rec.Value
		}
		k := valueKey{tp.Topic, rec.Value}
		if first, dup := c.found[k]; dup {
			c.r.Duplicated = append(c.r.Duplicated, fmt.Sprintf("%q at %s is a duplicate of %s", rec.Value, here, first))
			continue
		}
		c.found[k] = here
		s := c.h.sends[k]
		switch {
		case s == nil:
			c.r.UnexpectedRecords = append(c.r.UnexpectedRecords, fmt.Sprintf("%q at %s was never sent", rec.Value, here))
			continue
		case !s.acked && s.partition >= 0 && s.partition != tp.Partition: // an acked one is judged by its ack
			c.r.UnexpectedRecords = append(c.r.UnexpectedRecords, fmt.Sprintf(
				"%q at %s was sent by %s to partition %d", rec.Value, here, s.producer, s.partition))
		}
		switch {
		case s.acked:
			if s.ackTP != tp || (s.ackOffset >= 0 && s.ackOffset != rec.Offset) {
				c.r.OffsetMismatch = append(c.r.OffsetMismatch, fmt.Sprintf(
					"%q acknowledged to %s at %s@%d is in the final log at %s", rec.Value, s.producer, s.ackTP, s.ackOffset, here))
			}
			prev, seen := order[s.producer]
			if seen && s.seq < prev.seq {
				c.r.Reordered = append(c.r.Reordered, fmt.Sprintf(
					"%s: producer %s: %q (send #%d) at offset %d comes after %q (send #%d) at offset %d",
					tp, s.producer, s.value, s.seq, rec.Offset, prev.value, prev.seq, prev.offset))
			} else {
				order[s.producer] = latest{seq: s.seq, value: s.value, offset: rec.Offset}
			}
		case s.failed && s.definite:
			c.r.UnexpectedRecords = append(c.r.UnexpectedRecords, fmt.Sprintf(
				"%q at %s failed definitely for %s (%s)", rec.Value, here, s.producer, s.failErr))
		default:
			c.r.IndefinitePresent++
		}
	}
}

// checkAcked reports acknowledged values missing from the final logs.
func (c *checkRun) checkAcked() {
	unchecked := make(map[TopicPartition]int)
	sends := slices.Collect(maps.Values(c.h.sends))
	slices.SortFunc(sends, func(a, b *send) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.producer, b.producer), cmp.Compare(a.seq, b.seq))
	})
	for _, s := range sends {
		if !s.acked {
			continue
		}
		if _, ok := c.found[valueKey{s.topic, s.value}]; ok {
			continue // present; its offset was checked by checkFinal
		}
		if _, ok := c.h.finals[s.ackTP]; !ok {
			unchecked[s.ackTP]++
			continue
		}
		c.r.Lost = append(c.r.Lost, fmt.Sprintf("%s: %q (producer %s, send #%d) acknowledged at offset %d is missing from the final log",
			s.ackTP, s.value, s.producer, s.seq, s.ackOffset))
	}
	for _, tp := range sortedPartitions(unchecked) {
		c.r.Incomplete = append(c.r.Incomplete, fmt.Sprintf("%s: no final log; %d acknowledged records not checked", tp, unchecked[tp]))
	}
}

// checkConsumed compares every consumed value with the final log at its
// offset.
func (c *checkRun) checkConsumed() {
	keys := slices.Collect(maps.Keys(c.h.consumed))
	slices.SortFunc(keys, func(a, b offsetKey) int {
		return cmp.Or(compareTP(a.tp, b.tp), cmp.Compare(a.offset, b.offset))
	})
	unchecked := make(map[TopicPartition]int)
	for _, k := range keys {
		vals, ok := c.values[k.tp]
		if !ok {
			unchecked[k.tp]++
			continue
		}
		want, has := vals[k.offset]
		read := c.h.consumed[k]
		for _, v := range slices.Sorted(maps.Keys(read)) {
			switch {
			case !has:
				c.r.OffsetMismatch = append(c.r.OffsetMismatch, fmt.Sprintf(
					"consumer %s read %q at %s@%d; the final log has no record there", read[v], v, k.tp, k.offset))
			case v != want:
				c.r.OffsetMismatch = append(c.r.OffsetMismatch, fmt.Sprintf(
					"consumer %s read %q at %s@%d; the final log has %q there", read[v], v, k.tp, k.offset, want))
			}
		}
	}
	for _, tp := range sortedPartitions(unchecked) {
		c.r.Incomplete = append(c.r.Incomplete, fmt.Sprintf("%s: no final log; %d consumed offsets not checked", tp, unchecked[tp]))
	}
}

// checkCommits reports commits that go backwards or past the final log end.
func (c *checkRun) checkCommits() {
	keys := slices.Collect(maps.Keys(c.h.commits))
	slices.SortFunc(keys, func(a, b commitKey) int {
		return cmp.Or(cmp.Compare(a.group, b.group), compareTP(a.tp, b.tp))
	})
	for _, k := range keys {
		offs := c.h.commits[k]
		highest := offs[0]
		for i, off := range offs[1:] {
			if off < highest {
				c.r.CommitRegressions = append(c.r.CommitRegressions, fmt.Sprintf(
					"group %s %s: commit #%d of offset %d goes back from %d", k.group, k.tp, i+1, off, highest))
			}
			highest = max(highest, off)
		}
		end, ok := c.ends[k.tp]
		if !ok {
			c.r.Incomplete = append(c.r.Incomplete, fmt.Sprintf(
				"%s: no final log; commits of group %s not checked against its end", k.tp, k.group))
			continue
		}
		if highest > end {
			c.r.CommitRegressions = append(c.r.CommitRegressions, fmt.Sprintf(
				"group %s %s: committed offset %d is beyond the final log end %d", k.group, k.tp, highest, end))
		}
	}
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// sortedPartitions returns m's keys in topic, partition order.
func sortedPartitions[V any](m map[TopicPartition]V) []TopicPartition {
	tps := slices.Collect(maps.Keys(m))
	slices.SortFunc(tps, compareTP)
	return tps
}
