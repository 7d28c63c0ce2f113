package controller

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// place assigns rf replicas to each of count partitions over brokers (the
// live node ids, sorted, distinct; Kafka's message says "registered"). Partition i (0-based within the call) is led by
// brokers[(start+i) mod n], so the leaders of one call differ by at most
// one per broker. Its followers are the next brokers after the leader,
// skipping a distance that grows by one every n partitions (so that the
// same leader gets different followers in the next round); the skip stays
// below n, so a partition never holds a broker twice. This is the classic
// Kafka rack-unaware layout; racks are not considered yet.
func place(brokers []int32, count, rf, start int) ([][]int32, error) {
	n := len(brokers)
	if rf < 1 || rf > n {
		return nil, fmt.Errorf("The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, n)
	}
	out := make([][]int32, count)
	for i := range count {
		lead := (start + i) % n
		replicas := make([]int32, rf)
		replicas[0] = brokers[lead]
		if n > 1 {
			shift := (i / n) % (n - 1)
			for j := 1; j < rf; j++ {
				replicas[j] = brokers[(lead+1+(shift+j-1)%(n-1))%n]
			}
		}
		out[i] = replicas
	}
	return out, nil
}

// leastLoadedStart returns the index in brokers (sorted ids) of the broker
// that leads the fewest partitions in img (the lowest id on ties), where a
// new round-robin placement should start so that leadership stays spread
// across topics.
func leastLoadedStart(img metadata.Image, brokers []int32) int {
	leads := make(map[int32]int, len(brokers))
	for _, t := range img.Topics() {
		for _, p := range t.Partitions {
			leads[p.Leader]++
		}
	}
	best := 0
	for i, b := range brokers {
		if leads[b] < leads[brokers[best]] {
			best = i
		}
	}
	return best
}

// newPartitions builds the assignments for partitions [first, first+len)
// from replica lists: the live replicas form the ISR, the first of them
// leads (as Kafka's KRaft controller does, so that a manual assignment
// naming a fenced broker does not make it leader). A partition without a
// live replica is refused with Kafka's INVALID_REPLICA_ASSIGNMENT.
func newPartitions(first int32, replicas [][]int32, live liveFunc) ([]metadata.PartitionAssignment, *topicError) {
	out := make([]metadata.PartitionAssignment, len(replicas))
	for i, r := range replicas {
		isr := keep(r, live)
		if len(isr) == 0 {
			return nil, refuse(kerr.InvalidReplicaAssignment,
				"All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", first+int32(i))
		}
		out[i] = metadata.PartitionAssignment{
			Partition: first + int32(i),
			Replicas:  r,
			ISR:       isr,
			Leader:    isr[0],
		}
	}
	return out, nil
}

// topicError is a per-topic (or per-resource) refusal.
type topicError struct {
	code *kerr.Error
	msg  string
}

func refuse(code *kerr.Error, format string, args ...any) *topicError {
	return &topicError{code: code, msg: fmt.Sprintf(format, args...)}
}

// validateManualReplicas applies Kafka's checks to one manually assigned
// replica list: not empty, every broker registered and listed once, and as
// many replicas as the partitions before it (rf; 0 if this is the first).
func validateManualReplicas(img metadata.Image, replicas []int32, rf int) *topicError {
	if len(replicas) == 0 {
		return refuse(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Clone(replicas)
	slices.Sort(sorted)
	for i, b := range sorted {
		if _, ok := img.Broker(b); !ok {
			return refuse(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes broker %d, but no such broker is registered.", b)
		}
		if i > 0 && sorted[i-1] == b {
			return refuse(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes the broker %d more than once.", b)
		}
	}
	if rf > 0 && len(replicas) != rf {
		return refuse(kerr.InvalidReplicaAssignment,
			"The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).",
			len(replicas), rf)
	}
	return nil
}
