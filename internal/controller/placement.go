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
// Kafka rack-unaware layout; placeOnRacks adds racks.
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

// placeOnRacks is place with rack awareness, for brokers (sorted ids) whose
// racks rackOf names: when they span more than one rack (a broker without
// broker.rack counts as one rack of its own, as in Kafka's KRaft placer),
// the replicas of every partition span as many racks as they can (rf, or
// every rack when rf is larger), and leaders stay spread evenly. As Kafka's
// rack-aware assignment does, the brokers are first arranged so that racks
// alternate (the first broker of each rack, then the second of each, ...);
// partition i is led by the arranged broker at start+i (start indexes
// brokers, as for place), and each follower is the next broker, after a
// skip that rotates as in place, whose rack the partition does not use
// yet, once every rack is used, the next broker not yet chosen. With one
// rack it is place.
func placeOnRacks(brokers []int32, rackOf func(int32) string, count, rf, start int) ([][]int32, error) {
	racks := map[string][]int32{}
	var names []string
	for _, b := range brokers {
		r := rackOf(b)
		if _, ok := racks[r]; !ok {
			names = append(names, r)
		}
		racks[r] = append(racks[r], b)
	}
	if len(names) <= 1 {
		return place(brokers, count, rf, start)
	}
	n := len(brokers)
	if rf < 1 || rf > n {
		return nil, fmt.Errorf("The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, n)
	}
	slices.Sort(names)
	arranged := make([]int32, 0, n)
	for i := 0; len(arranged) < n; i++ {
		for _, r := range names {
			if i < len(racks[r]) {
				arranged = append(arranged, racks[r][i])
			}
		}
	}
	first := max(0, slices.Index(arranged, brokers[start%n]))
	out := make([][]int32, count)
	for i := range count {
		lead := (first + i) % n
		replicas := make([]int32, 1, rf)
		replicas[0] = arranged[lead]
		used := map[string]bool{rackOf(arranged[lead]): true}
		shift := (i / n) % (n - 1)
		for len(replicas) < rf {
			pick := int32(-1)
			for k := range n - 1 {
				b := arranged[(lead+1+(shift+k)%(n-1))%n]
				if slices.Contains(replicas, b) || (len(used) < len(names) && used[rackOf(b)]) {
					continue
				}
				pick = b
				break
			}
			if pick < 0 { // unreachable: an unused rack has a broker not yet chosen
				return nil, fmt.Errorf("placement found no broker for replica %d of partition %d", len(replicas)+1, i)
			}
			replicas = append(replicas, pick)
			used[rackOf(pick)] = true
		}
		out[i] = replicas
	}
	return out, nil
}

// rackOfImage returns the rack of each broker registered in img ("" for
// none).
func rackOfImage(img metadata.Image) func(int32) string {
	return func(id int32) string {
		b, _ := img.Broker(id)
		return b.Rack
	}
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
