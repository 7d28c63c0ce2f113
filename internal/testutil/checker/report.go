package checker

import (
	"fmt"
	"strings"
)

// ShownPerCategory is how many problems of each kind String prints.
const ShownPerCategory = 10

// Report is the verdict of Check. Each problem list holds one readable
// sentence per problem, in a deterministic order (by partition and offset,
// or by producer and send order).
type Report struct {
	// Lost lists acknowledged records absent from the final log.
	Lost []string
	// Duplicated lists values found more than once in a topic's final logs.
	Duplicated []string
	// Reordered lists acknowledged records of one producer out of its send
	// order within a partition.
	Reordered []string
	// OffsetMismatch lists acknowledged records at another place than
	// acknowledged, consumer reads that disagree with the final log, and
	// final logs whose offsets do not increase.
	OffsetMismatch []string
	// CommitRegressions lists group commits that went backwards or past
	// the final log end.
	CommitRegressions []string
	// UnexpectedRecords lists final-log values never sent, sent to another
	// partition, or whose send failed definitely.
	UnexpectedRecords []string
	// Incomplete lists inconsistencies of the history itself (acks of
	// values never sent, values sent twice, partitions without a final
	// log) that kept records from being judged.
	Incomplete []string

	// Sent counts the distinct values sent.
	Sent int
	// Acked counts the sends acknowledged.
	Acked int
	// FailedDefinite counts the sends that failed definitely.
	FailedDefinite int
	// FailedIndefinite counts the sends that failed with an unknown outcome.
	FailedIndefinite int
	// Unanswered counts the sends with neither an ack nor a failure.
	Unanswered int
	// IndefinitePresent counts the final-log records whose send had an
	// unknown outcome (indefinite failure or no answer): they were written.
	IndefinitePresent int
	// FinalRecords counts the records of all final logs.
	FinalRecords int
	// ConsumedOffsets counts the distinct partition offsets consumers read.
	ConsumedOffsets int
	// Commits counts the successful commits recorded.
	Commits int
}

// OK reports whether no problem was found and the history was complete.
func (r Report) OK() bool {
	for _, c := range r.categories() {
		if len(c.problems) > 0 {
			return false
		}
	}
	return true
}

type category struct {
	name     string
	problems []string
}

func (r Report) categories() []category {
	return []category{
		{"lost", r.Lost},
		{"duplicated", r.Duplicated},
		{"reordered", r.Reordered},
		{"offset mismatch", r.OffsetMismatch},
		{"commit regressions", r.CommitRegressions},
		{"unexpected records", r.UnexpectedRecords},
		{"incomplete history", r.Incomplete},
	}
}

// String is a readable summary: the counters, then the first
// ShownPerCategory problems of each kind.
func (r Report) String() string {
	var b strings.Builder
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "checker: %s: sent %d, acked %d, failed %d definite + %d indefinite, unanswered %d; "+
		"final logs hold %d records (%d of unknown outcome); %d offsets consumed, %d commits\n",
		verdict, r.Sent, r.Acked, r.FailedDefinite, r.FailedIndefinite, r.Unanswered,
		r.FinalRecords, r.IndefinitePresent, r.ConsumedOffsets, r.Commits)
	for _, c := range r.categories() {
		if len(c.problems) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s: %d\n", c.name, len(c.problems))
		for i, p := range c.problems {
			if i == ShownPerCategory {
				fmt.Fprintf(&b, "  ... and %d more\n", len(c.problems)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	return b.String()
}
