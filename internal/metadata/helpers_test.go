package metadata

import (
	"fmt"
	"math/rand/v2"
)

// Small builders for test data.

func tid(b byte) TopicID {
	var id TopicID
	id[0], id[15] = b, 0x40
	return id
}

// part builds partition p led by its first replica, with ISR = replicas.
func part(p int32, replicas ...int32) PartitionAssignment {
	return PartitionAssignment{Partition: p, Replicas: replicas, ISR: append([]int32(nil), replicas...), Leader: replicas[0]}
}

func parts(n int, replicas ...int32) []PartitionAssignment {
	out := make([]PartitionAssignment, n)
	for i := range out {
		out[i] = part(int32(i), replicas...)
	}
	return out
}

func broker(id int32) RegisterBroker {
	return RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 9092 + id}
}

func topic(name string, id byte, n int) CreateTopic {
	return CreateTopic{Name: name, TopicID: tid(id), Partitions: parts(n, 1)}
}

// randomRecords makes a deterministic stream of n records that are mostly
// valid against the state they are applied to (some are rejected, which
// is fine: rejection is deterministic too).
func randomRecords(seed uint64, n int) []Record {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var recs []Record
	topics := []TopicID{}
	nextPID := int64(0)
	for i := 0; len(recs) < n; i++ {
		switch r.IntN(8) {
		case 0:
			recs = append(recs, broker(int32(r.IntN(5))))
		case 1, 2:
			id := TopicID{}
			id[0], id[1], id[2] = byte(i), byte(i>>8), 0x77
			topics = append(topics, id)
			recs = append(recs, CreateTopic{
				Name: fmt.Sprintf("t%d.x", i), TopicID: id, Partitions: parts(1+r.IntN(4), 1, 2),
				Configs: map[string]string{"retention.ms": fmt.Sprint(r.IntN(1000))},
			})
		case 3:
			if len(topics) > 0 {
				recs = append(recs, DeleteTopic{TopicID: topics[r.IntN(len(topics))]})
			}
		case 4:
			recs = append(recs, AlterConfigs{ResourceType: ResourceBroker, Name: fmt.Sprint(r.IntN(3)),
				Set: map[string]string{"log.retention.ms": fmt.Sprint(r.IntN(100))}})
		case 5:
			recs = append(recs, AllocateProducerIDs{NodeID: 1, FirstID: nextPID, Count: 1000})
			nextPID += 1000
		case 6:
			if len(topics) > 0 {
				recs = append(recs, ChangePartition{TopicID: topics[r.IntN(len(topics))], Partition: 0,
					Leader: 2, ISR: []int32{2}, PartitionEpoch: 0})
			}
		case 7:
			if len(topics) > 0 {
				recs = append(recs, AlterConfigs{ResourceType: ResourceTopic, Name: fmt.Sprintf("t%d.x", r.IntN(i+1)),
					Set: map[string]string{"cleanup.policy": "compact"}, Delete: []string{"retention.ms"}})
			}
		}
	}
	return recs
}
