package metadata

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func allRecordTypes() []Record {
	return []Record{
		RegisterBroker{NodeID: 1, Host: "h", Port: 9092, Rack: "r1", IncarnationID: [16]byte{1, 2}},
		CreateTopic{Name: "a", TopicID: tid(1), Partitions: parts(2, 1, 2), Configs: map[string]string{"k": "v"}},
		DeleteTopic{TopicID: tid(1)},
		CreatePartitions{TopicID: tid(1), New: []PartitionAssignment{part(2, 1)}},
		AlterConfigs{ResourceType: ResourceBroker, Name: "1", Set: map[string]string{"k": "v"}, Delete: []string{"d"}},
		AllocateProducerIDs{NodeID: 1, FirstID: 1000, Count: 1000},
		ChangePartition{TopicID: tid(1), Partition: 1, Leader: 2, ISR: []int32{2}, Replicas: []int32{2, 1}, PartitionEpoch: 3},
		InitCluster{ClusterID: "c"},
		Batch{Records: []Record{DeleteTopic{TopicID: tid(1)}, InitCluster{ClusterID: "x"}}},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, rec := range allRecordTypes() {
		data, err := EncodeRecord(rec)
		if err != nil {
			t.Fatalf("encode %T: %v", rec, err)
		}
		if data[0] != recordFormatV1 || RecordType(data[1]) != rec.Type() {
			t.Fatalf("%T: header %v", rec, data[:2])
		}
		got, err := DecodeRecord(data)
		if err != nil {
			t.Fatalf("decode %T: %v", rec, err)
		}
		if !reflect.DeepEqual(got, rec) {
			t.Fatalf("round trip %T:\n got %#v\nwant %#v", rec, got, rec)
		}
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	big := make([]byte, MaxRecordBytes+1)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{1}},
		{"bad version", []byte{9, byte(TypeInitCluster), '{', '}'}},
		{"unknown type", []byte{1, 200, '{', '}'}},
		{"bad json", []byte{1, byte(TypeCreateTopic), '{'}},
		{"wrong json type", []byte{1, byte(TypeCreateTopic), '[', ']'}},
		{"nested batch", append([]byte{1, byte(TypeBatch)}, `[{"t":9,"r":[]}]`...)},
		{"batch bad item", append([]byte{1, byte(TypeBatch)}, `[{"t":2,"r":5}]`...)},
		{"oversize", big},
		{"too many partitions", append([]byte{1, byte(TypeCreatePartitions)},
			`{"new":[`+strings.Repeat(`{},`, MaxPartitionsPerTopic)+`{}]}`...)},
		{"long cluster id", append([]byte{1, byte(TypeInitCluster)}, `{"cluster_id":"`+strings.Repeat("x", MaxClusterIDLen+1)+`"}`...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRecord(tc.data); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("err = %v, want ErrInvalidRecord", err)
			}
		})
	}
}

func TestEncodeRecordBounds(t *testing.T) {
	for _, rec := range []Record{
		nil,
		Batch{Records: []Record{Batch{}}},
		CreateTopic{Name: strings.Repeat("a", 300), TopicID: tid(1), Partitions: parts(1, 1)},
		AlterConfigs{ResourceType: ResourceTopic, Name: "a", Set: map[string]string{"k": strings.Repeat("v", MaxConfigValueLen+1)}},
		RegisterBroker{NodeID: 1, Host: strings.Repeat("h", MaxHostLen+1), Port: 1},
		ChangePartition{ISR: make([]int32, MaxReplicationFactor+1)},
	} {
		if _, err := EncodeRecord(rec); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("EncodeRecord(%T) err = %v, want ErrInvalidRecord", rec, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range allRecordTypes() {
		data, err := EncodeRecord(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeRecord(data)
		if err != nil {
			return
		}
		// Whatever decodes must apply or be rejected without panicking,
		// and must re-encode.
		s := NewState()
		_ = s.Apply(1, rec)
		if _, err := EncodeRecord(rec); err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
	})
}

func FuzzReadSnapshot(f *testing.F) {
	s := NewState()
	for i, r := range randomRecords(1, 30) {
		_ = s.Apply(uint64(i+1), r)
	}
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, s.Image()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteSnapshot(&out, img); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSnapshot(&out); err != nil {
			t.Fatalf("re-read of a valid snapshot failed: %v", err)
		}
	})
}
