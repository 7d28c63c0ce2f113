package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzLoadBatch feeds arbitrary bytes to the replay of __consumer_offsets:
// it must never panic or allocate without bound.
//
//	go test ./internal/group -run '^$' -fuzz FuzzLoadBatch -fuzztime 30s
func FuzzLoadBatch(f *testing.F) {
	gv := kmsg.NewGroupMetadataValue()
	gv.ProtocolType, gv.Generation = "consumer", 1
	proto, leader := "range", "m"
	gv.Protocol, gv.Leader = &proto, &leader
	gv.Members = []kmsg.GroupMetadataValueMember{{MemberID: "m", SessionTimeoutMillis: 10000}}
	f.Add(EncodeBatch([]Record{
		offsetCommitRecord("g", "t", 0, OffsetCommit{Offset: 1, LeaderEpoch: -1, ExpireTimestamp: -1}),
		groupMetadataRecord("g", &gv),
		groupTombstone("g"),
	}, 1))
	f.Add(EncodeBatch([]Record{{Key: []byte{0, 1, 0, 1, 'g'}, Value: []byte{0, 3, 1}}}, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLoader()
		_ = l.batch(data)
		for id, lg := range l.groups {
			if lg.meta != nil {
				now := time.Unix(1_700_000_000, 0)
				cfg := DefaultConfig().withDefaults()
				newGroup(id, &cfg, now).restore(lg.meta, now)
			}
		}
	})
}
