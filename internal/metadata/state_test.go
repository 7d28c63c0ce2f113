package metadata

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestStateApply(t *testing.T) {
	type check func(t *testing.T, img Image)
	for _, tc := range []struct {
		name  string
		setup []Record
		rec   Record
		want  error // nil: applied
		check check
	}{
		// RegisterBroker
		{name: "register broker", rec: broker(1), check: func(t *testing.T, img Image) {
			b, ok := img.Broker(1)
			if !ok || b.Host != "127.0.0.1" || b.Port != 9093 || b.Epoch != 10 {
				t.Fatalf("broker = %+v, %v", b, ok)
			}
		}},
		{name: "re-register bumps epoch", setup: []Record{broker(1)}, rec: RegisterBroker{NodeID: 1, Host: "h2", Port: 1},
			check: func(t *testing.T, img Image) {
				if b, _ := img.Broker(1); b.Host != "h2" || b.Epoch != 10 {
					t.Fatalf("broker = %+v", b)
				}
			}},
		{name: "register negative id", rec: RegisterBroker{NodeID: -1, Host: "h", Port: 1}, want: ErrInvalidRecord},
		{name: "register empty host", rec: RegisterBroker{NodeID: 1, Port: 1}, want: ErrInvalidRecord},
		{name: "register port 0", rec: RegisterBroker{NodeID: 1, Host: "h"}, want: ErrInvalidRecord},
		{name: "register port 65536", rec: RegisterBroker{NodeID: 1, Host: "h", Port: 65536}, want: ErrInvalidRecord},

		// Fencing and unregistering
		{name: "registered broker starts fenced", rec: broker(1), check: func(t *testing.T, img Image) {
			if b, _ := img.Broker(1); !b.Fenced || img.IsLive(1) || len(img.LiveBrokerIDs()) != 0 {
				t.Fatalf("broker = %+v live=%v", b, img.LiveBrokerIDs())
			}
		}},
		{name: "unfence", setup: []Record{broker(1)}, rec: UnfenceBroker{NodeID: 1, Epoch: 1},
			check: func(t *testing.T, img Image) {
				if !img.IsLive(1) || len(img.LiveBrokerIDs()) != 1 {
					t.Fatalf("live = %v", img.LiveBrokerIDs())
				}
			}},
		{name: "fence", setup: []Record{broker(1), UnfenceBroker{NodeID: 1, Epoch: 1}}, rec: FenceBroker{NodeID: 1, Epoch: 1},
			check: func(t *testing.T, img Image) {
				if img.IsLive(1) {
					t.Fatal("still live")
				}
			}},
		{name: "unfence stale epoch", setup: []Record{broker(1)}, rec: UnfenceBroker{NodeID: 1, Epoch: 7}, want: ErrStaleEpoch},
		{name: "fence unknown broker", rec: FenceBroker{NodeID: 3, Epoch: 1}, want: ErrUnknownBroker},
		{name: "unregister", setup: []Record{broker(1), broker(2)}, rec: UnregisterBroker{NodeID: 1},
			check: func(t *testing.T, img Image) {
				if _, ok := img.Broker(1); ok || len(img.BrokerIDs()) != 1 {
					t.Fatalf("brokers = %v", img.BrokerIDs())
				}
			}},
		{name: "unregister unknown", rec: UnregisterBroker{NodeID: 1}, want: ErrUnknownBroker},

		// Reassignment state
		{name: "start reassignment", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec: ChangePartition{TopicID: tid(1), Partition: 0, Leader: NoLeaderChange, Replicas: []int32{3, 1, 2},
				SetReassignment: true, Adding: []int32{3}, Removing: []int32{2}},
			check: func(t *testing.T, img Image) {
				tp, _ := img.Topic("a")
				p := tp.Partitions[0]
				if !p.Reassigning() || len(p.Adding) != 1 || p.Removing[0] != 2 || p.PartitionEpoch != 1 || p.LeaderEpoch != 0 {
					t.Fatalf("partition = %+v", p)
				}
				if got := p.TargetReplicas(); len(got) != 2 || got[0] != 3 || got[1] != 1 {
					t.Fatalf("target = %v", got)
				}
			}},
		{name: "reassignment adding a non-replica", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec:  ChangePartition{TopicID: tid(1), Partition: 0, Leader: NoLeaderChange, SetReassignment: true, Adding: []int32{3}},
			want: ErrInvalidRecord},
		{name: "reassignment removing every replica", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec:  ChangePartition{TopicID: tid(1), Partition: 0, Leader: NoLeaderChange, SetReassignment: true, Removing: []int32{1, 2}},
			want: ErrInvalidRecord},

		// CreateTopic
		{name: "create topic", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(3, 1, 2), Configs: map[string]string{"x": "y"}},
			check: func(t *testing.T, img Image) {
				tp, ok := img.Topic("a")
				if !ok || len(tp.Partitions) != 3 || tp.ReplicationFactor() != 2 || tp.Configs["x"] != "y" {
					t.Fatalf("topic = %+v", tp)
				}
				if byID, _ := img.TopicByID(tid(1)); byID != tp {
					t.Fatal("by-id and by-name lookups differ")
				}
				if img.PartitionCount() != 3 || img.TopicCount() != 1 {
					t.Fatalf("counts %d %d", img.PartitionCount(), img.TopicCount())
				}
			}},
		{name: "create topic nil configs", rec: topic("a", 1, 1), check: func(t *testing.T, img Image) {
			if tp, _ := img.Topic("a"); tp.Configs == nil {
				t.Fatal("nil configs")
			}
		}},
		{name: "create zero id", rec: CreateTopic{Name: "a", Partitions: parts(1, 1)}, want: ErrInvalidRecord},
		{name: "create bad name", rec: topic("a/b", 1, 1), want: ErrInvalidRecord},
		{name: "create name ..", rec: topic("..", 1, 1), want: ErrInvalidRecord},
		{name: "create existing name", setup: []Record{topic("a", 1, 1)}, rec: topic("a", 2, 1), want: ErrTopicExists},
		{name: "create existing id", setup: []Record{topic("a", 1, 1)}, rec: topic("b", 1, 1), want: ErrTopicExists},
		{name: "create colliding", setup: []Record{topic("a.b", 1, 1)}, rec: topic("a_b", 2, 1), want: ErrTopicExists},
		{name: "create no partitions", rec: CreateTopic{Name: "a", TopicID: tid(1)}, want: ErrInvalidRecord},
		{name: "create partition gap", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: []PartitionAssignment{part(1, 1)}}, want: ErrInvalidRecord},
		{name: "create duplicate replica", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: []PartitionAssignment{part(0, 1, 1)}}, want: ErrInvalidRecord},
		{name: "create negative replica", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: []PartitionAssignment{part(0, -3)}}, want: ErrInvalidRecord},
		{name: "create isr outside replicas", rec: CreateTopic{Name: "a", TopicID: tid(1),
			Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{2}, Leader: 2}}}, want: ErrInvalidRecord},
		{name: "create leader outside isr", rec: CreateTopic{Name: "a", TopicID: tid(1),
			Partitions: []PartitionAssignment{{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 2}}}, want: ErrInvalidRecord},
		{name: "create empty isr", rec: CreateTopic{Name: "a", TopicID: tid(1),
			Partitions: []PartitionAssignment{{Replicas: []int32{1}, Leader: NoLeader}}}, want: ErrInvalidRecord},
		{name: "create no leader ok", rec: CreateTopic{Name: "a", TopicID: tid(1),
			Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: NoLeader}}}},
		{name: "create negative epoch", rec: CreateTopic{Name: "a", TopicID: tid(1),
			Partitions: []PartitionAssignment{{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: -1}}}, want: ErrInvalidRecord},
		{name: "create empty config name", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1),
			Configs: map[string]string{"": "x"}}, want: ErrInvalidRecord},
		{name: "create too many partitions", rec: CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(MaxPartitionsPerTopic+1, 1)}, want: ErrInvalidRecord},

		// DeleteTopic
		{name: "delete topic", setup: []Record{topic("a.b", 1, 2)}, rec: DeleteTopic{TopicID: tid(1)},
			check: func(t *testing.T, img Image) {
				if _, ok := img.Topic("a.b"); ok || img.PartitionCount() != 0 {
					t.Fatal("topic still there")
				}
				if _, ok := img.CollidingTopic("a_b"); ok {
					t.Fatal("collision key left behind")
				}
			}},
		{name: "delete unknown", rec: DeleteTopic{TopicID: tid(9)}, want: ErrUnknownTopic},

		// CreatePartitions
		{name: "create partitions", setup: []Record{topic("a", 1, 2)},
			rec: CreatePartitions{TopicID: tid(1), New: []PartitionAssignment{part(2, 1), part(3, 1)}},
			check: func(t *testing.T, img Image) {
				if tp, _ := img.Topic("a"); len(tp.Partitions) != 4 || img.PartitionCount() != 4 {
					t.Fatalf("partitions = %d", len(tp.Partitions))
				}
			}},
		{name: "create partitions unknown topic", rec: CreatePartitions{TopicID: tid(1), New: []PartitionAssignment{part(0, 1)}}, want: ErrUnknownTopic},
		{name: "create partitions wrong number", setup: []Record{topic("a", 1, 2)},
			rec: CreatePartitions{TopicID: tid(1), New: []PartitionAssignment{part(1, 1)}}, want: ErrInvalidRecord},
		{name: "create partitions none", setup: []Record{topic("a", 1, 2)}, rec: CreatePartitions{TopicID: tid(1)}, want: ErrInvalidRecord},

		// AlterConfigs
		{name: "alter topic configs", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1),
			Configs: map[string]string{"x": "1", "y": "2"}}},
			rec: AlterConfigs{ResourceType: ResourceTopic, Name: "a", Set: map[string]string{"x": "3", "z": "4"}, Delete: []string{"y", "absent"}},
			check: func(t *testing.T, img Image) {
				if got, want := img.TopicConfigs("a"), map[string]string{"x": "3", "z": "4"}; !reflect.DeepEqual(got, want) {
					t.Fatalf("configs = %v, want %v", got, want)
				}
			}},
		{name: "alter unknown topic", rec: AlterConfigs{ResourceType: ResourceTopic, Name: "a", Set: map[string]string{"x": "1"}}, want: ErrUnknownTopic},
		{name: "alter cluster default", rec: AlterConfigs{ResourceType: ResourceBroker, Name: "", Set: map[string]string{"x": "1"}},
			check: func(t *testing.T, img Image) {
				if img.BrokerConfigs("")["x"] != "1" {
					t.Fatal("not set")
				}
			}},
		{name: "alter broker delete last", setup: []Record{AlterConfigs{ResourceType: ResourceBroker, Name: "1", Set: map[string]string{"x": "1"}}},
			rec: AlterConfigs{ResourceType: ResourceBroker, Name: "1", Delete: []string{"x"}},
			check: func(t *testing.T, img Image) {
				if img.BrokerConfigs("1") != nil {
					t.Fatal("empty resource kept")
				}
			}},
		{name: "alter bad broker name", rec: AlterConfigs{ResourceType: ResourceBroker, Name: "x"}, want: ErrInvalidRecord},
		{name: "alter broker name -1", rec: AlterConfigs{ResourceType: ResourceBroker, Name: "-1"}, want: ErrInvalidRecord},
		{name: "alter broker name 01", rec: AlterConfigs{ResourceType: ResourceBroker, Name: "01"}, want: ErrInvalidRecord},
		{name: "alter unknown resource type", rec: AlterConfigs{ResourceType: 3, Name: "x"}, want: ErrInvalidRecord},

		// AllocateProducerIDs
		{name: "allocate producer ids", setup: []Record{AllocateProducerIDs{NodeID: 1, FirstID: 0, Count: 1000}},
			rec: AllocateProducerIDs{NodeID: 2, FirstID: 1000, Count: 1000},
			check: func(t *testing.T, img Image) {
				if img.NextProducerID() != 2000 {
					t.Fatalf("next = %d", img.NextProducerID())
				}
			}},
		{name: "allocate conflict", setup: []Record{AllocateProducerIDs{NodeID: 1, FirstID: 0, Count: 1000}},
			rec: AllocateProducerIDs{NodeID: 2, FirstID: 0, Count: 1000}, want: ErrProducerIDConflict},
		{name: "allocate zero count", rec: AllocateProducerIDs{NodeID: 1, FirstID: 0}, want: ErrInvalidRecord},

		// ChangePartition
		{name: "change leader and isr", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(2, 1, 2, 3)}},
			rec: ChangePartition{TopicID: tid(1), Partition: 1, Leader: 2, ISR: []int32{2, 3}},
			check: func(t *testing.T, img Image) {
				tp, _ := img.Topic("a")
				p := tp.Partitions[1]
				if p.Leader != 2 || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 || !reflect.DeepEqual(p.ISR, []int32{2, 3}) {
					t.Fatalf("partition = %+v", p)
				}
				if tp.Partitions[0].PartitionEpoch != 0 {
					t.Fatal("other partition changed")
				}
			}},
		{name: "change isr only keeps leader epoch", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec: ChangePartition{TopicID: tid(1), Partition: 0, Leader: NoLeaderChange, ISR: []int32{1}},
			check: func(t *testing.T, img Image) {
				tp, _ := img.Topic("a")
				if p := tp.Partitions[0]; p.Leader != 1 || p.LeaderEpoch != 0 || p.PartitionEpoch != 1 {
					t.Fatalf("partition = %+v", p)
				}
			}},
		{name: "change stale epoch", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec: ChangePartition{TopicID: tid(1), Partition: 0, Leader: 2, PartitionEpoch: 5}, want: ErrStaleEpoch},
		{name: "change unknown partition", setup: []Record{topic("a", 1, 1)},
			rec: ChangePartition{TopicID: tid(1), Partition: 1, Leader: NoLeaderChange}, want: ErrUnknownPartition},
		{name: "change unknown topic", rec: ChangePartition{TopicID: tid(1), Leader: NoLeaderChange}, want: ErrUnknownTopic},
		{name: "change leader outside isr", setup: []Record{CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(1, 1, 2)}},
			rec: ChangePartition{TopicID: tid(1), Leader: 2, ISR: []int32{1}}, want: ErrInvalidRecord},

		// InitCluster
		{name: "init cluster", rec: InitCluster{ClusterID: "abc"}, check: func(t *testing.T, img Image) {
			if img.ClusterID() != "abc" {
				t.Fatal(img.ClusterID())
			}
		}},
		{name: "init cluster twice", setup: []Record{InitCluster{ClusterID: "abc"}}, rec: InitCluster{ClusterID: "def"}, want: ErrClusterIDSet},
		{name: "init cluster empty", rec: InitCluster{}, want: ErrInvalidRecord},

		// Batch
		{name: "batch applies all", rec: Batch{Records: []Record{topic("a", 1, 1), topic("b", 2, 1), DeleteTopic{TopicID: tid(1)}}},
			check: func(t *testing.T, img Image) {
				if img.TopicCount() != 1 {
					t.Fatalf("topics = %d", img.TopicCount())
				}
			}},
		{name: "batch is all or nothing", rec: Batch{Records: []Record{topic("a", 1, 1), topic("a", 2, 1)}}, want: ErrTopicExists},
		{name: "batch nested", rec: Batch{Records: []Record{Batch{}}}, want: ErrInvalidRecord},
		{name: "nil record", rec: nil, want: ErrInvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			for i, r := range tc.setup {
				if err := s.Apply(uint64(i+1), r); err != nil {
					t.Fatalf("setup record %d: %v", i, err)
				}
			}
			before := s.Image()
			beforeSnap := snapshotBytes(t, before)
			err := s.Apply(10, tc.rec)
			if tc.want == nil && err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Apply error = %v, want %v", err, tc.want)
			}
			if s.Image().Index() != 10 {
				t.Fatalf("index = %d, want 10", s.Image().Index())
			}
			// Copy-on-write: the old image never changes.
			if got := snapshotBytes(t, before); string(got) != string(beforeSnap) {
				t.Fatal("applying a record changed an earlier image")
			}
			if tc.want != nil {
				after := NewStateFrom(s.Image())
				if err := after.Apply(before.Index(), nil); err == nil {
					t.Fatal("nil record applied")
				}
				if string(snapshotBytes(t, after.Image())) != string(beforeSnap) {
					t.Fatal("a rejected record changed the image")
				}
			}
			if tc.check != nil {
				tc.check(t, s.Image())
			}
		})
	}
}

func TestAllocateProducerIDsOverflow(t *testing.T) {
	s := NewStateFrom(Image{d: &imageData{nextProducerID: math.MaxInt64 - 10}})
	err := s.Apply(1, AllocateProducerIDs{NodeID: 1, FirstID: math.MaxInt64 - 10, Count: 1000})
	if !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("err = %v", err)
	}
}

func TestZeroImage(t *testing.T) {
	var img Image
	if img.Index() != 0 || img.ClusterID() != "" || img.TopicCount() != 0 || len(img.Brokers()) != 0 || len(img.Topics()) != 0 {
		t.Fatal("zero image not empty")
	}
	if _, ok := img.Topic("x"); ok {
		t.Fatal("found a topic in the zero image")
	}
}

func TestValidateTopicName(t *testing.T) {
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	for name, ok := range map[string]bool{
		"a": true, "A-b_c.d": true, string(long[:249]): true,
		"": false, ".": false, "..": false, string(long): false, "a b": false, "a/b": false, "é": false,
	} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("ValidateTopicName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[TopicID]bool{}
	for range 100 {
		id, err := NewUUID(nil)
		if err != nil {
			t.Fatal(err)
		}
		if id.IsZero() || seen[id] || id.String()[0] == '-' || id[6]>>4 != 4 {
			t.Fatalf("bad id %s", id)
		}
		seen[id] = true
		back, err := ParseTopicID(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip %s: %v %s", id, err, back)
		}
	}
	if _, err := ParseTopicID("short"); err == nil {
		t.Fatal("parsed a short id")
	}
}
