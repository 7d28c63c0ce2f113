package metadata

import (
	"encoding/json"
	"fmt"
)

// Entry format (the Data of a Raft LogCommand entry):
//
//	+---------+------------+--------------------------------+
//	| version | RecordType | body: JSON of the record       |
//	| 1 byte  | 1 byte     | len(entry)-2 bytes             |
//	+---------+------------+--------------------------------+
//
// version is recordFormatV1. A Batch body is a JSON array of
// {"t": RecordType, "r": <record JSON>}. JSON keeps the log readable with
// standard tools; the version byte lets a later format (e.g. kmsg-style
// binary) coexist with old entries.

const recordFormatV1 byte = 1

// Bounds applied when decoding (and, by the state, when applying) records,
// so that neither a corrupt log nor a bad proposal can make the node
// allocate without limit.
const (
	// MaxRecordBytes bounds one encoded entry.
	MaxRecordBytes = 32 << 20
	// MaxPartitionsPerTopic bounds a topic's partition count.
	MaxPartitionsPerTopic = 100_000
	// MaxReplicationFactor bounds a partition's replica count.
	MaxReplicationFactor = 128
	// MaxConfigsPerResource bounds the overrides of one resource.
	MaxConfigsPerResource = 1024
	// MaxConfigNameLen and MaxConfigValueLen bound one override.
	MaxConfigNameLen  = 255
	MaxConfigValueLen = 32 << 10
	// MaxBatchRecords bounds the records of one Batch.
	MaxBatchRecords = 200_000
	// MaxTopicNameLen is Kafka's limit on topic names.
	MaxTopicNameLen = 249
	// MaxHostLen bounds a broker's host and rack.
	MaxHostLen = 255
	// MaxClusterIDLen bounds the cluster id.
	MaxClusterIDLen = 64
)

type batchItem struct {
	T RecordType      `json:"t"`
	R json.RawMessage `json:"r"`
}

// EncodeRecord encodes rec as a Raft entry. It fails for records that break
// the size bounds (see Max* constants), for nested batches and for a nil or
// unknown record.
func EncodeRecord(rec Record) ([]byte, error) {
	if err := checkBounds(rec, true); err != nil {
		return nil, err
	}
	body, err := marshalBody(rec)
	if err != nil {
		return nil, err
	}
	if len(body)+2 > MaxRecordBytes {
		return nil, fmt.Errorf("metadata: encode %T: %d bytes exceeds the %d byte limit: %w",
			rec, len(body)+2, MaxRecordBytes, ErrInvalidRecord)
	}
	out := make([]byte, 0, len(body)+2)
	out = append(out, recordFormatV1, byte(rec.Type()))
	return append(out, body...), nil
}

func marshalBody(rec Record) ([]byte, error) {
	if b, ok := rec.(Batch); ok {
		items := make([]batchItem, len(b.Records))
		for i, r := range b.Records {
			raw, err := json.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("metadata: encode batch record %d: %w", i, err)
			}
			items[i] = batchItem{T: r.Type(), R: raw}
		}
		return json.Marshal(items)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode %T: %w", rec, err)
	}
	return body, nil
}

// DecodeRecord decodes a Raft entry written by EncodeRecord. Every error
// wraps ErrInvalidRecord.
func DecodeRecord(data []byte) (Record, error) {
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("metadata: decode: entry of %d bytes exceeds %d: %w", len(data), MaxRecordBytes, ErrInvalidRecord)
	}
	if len(data) < 2 {
		return nil, fmt.Errorf("metadata: decode: entry of %d bytes is too short: %w", len(data), ErrInvalidRecord)
	}
	if data[0] != recordFormatV1 {
		return nil, fmt.Errorf("metadata: decode: unknown format version %d: %w", data[0], ErrInvalidRecord)
	}
	rec, err := decodeBody(RecordType(data[1]), data[2:], true)
	if err != nil {
		return nil, err
	}
	if err := checkBounds(rec, true); err != nil {
		return nil, err
	}
	return rec, nil
}

func decodeBody(t RecordType, body []byte, allowBatch bool) (Record, error) {
	var (
		rec Record
		err error
	)
	switch t {
	case TypeRegisterBroker:
		rec, err = unmarshal[RegisterBroker](body)
	case TypeCreateTopic:
		rec, err = unmarshal[CreateTopic](body)
	case TypeDeleteTopic:
		rec, err = unmarshal[DeleteTopic](body)
	case TypeCreatePartitions:
		rec, err = unmarshal[CreatePartitions](body)
	case TypeAlterConfigs:
		rec, err = unmarshal[AlterConfigs](body)
	case TypeAllocateProducerIDs:
		rec, err = unmarshal[AllocateProducerIDs](body)
	case TypeChangePartition:
		rec, err = unmarshal[ChangePartition](body)
	case TypeInitCluster:
		rec, err = unmarshal[InitCluster](body)
	case TypeFenceBroker:
		rec, err = unmarshal[FenceBroker](body)
	case TypeUnfenceBroker:
		rec, err = unmarshal[UnfenceBroker](body)
	case TypeUnregisterBroker:
		rec, err = unmarshal[UnregisterBroker](body)
	case TypeBatch:
		if !allowBatch {
			return nil, fmt.Errorf("metadata: decode: nested batch: %w", ErrInvalidRecord)
		}
		rec, err = decodeBatch(body)
	default:
		return nil, fmt.Errorf("metadata: decode: unknown record type %d: %w", t, ErrInvalidRecord)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: decode record type %d: %v: %w", t, err, ErrInvalidRecord)
	}
	return rec, nil
}

func unmarshal[T Record](body []byte) (Record, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func decodeBatch(body []byte) (Record, error) {
	var items []batchItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, err
	}
	if len(items) > MaxBatchRecords {
		return nil, fmt.Errorf("%d records exceed %d", len(items), MaxBatchRecords)
	}
	b := Batch{Records: make([]Record, len(items))}
	for i, it := range items {
		r, err := decodeBody(it.T, it.R, false)
		if err != nil {
			return nil, err
		}
		b.Records[i] = r
	}
	return b, nil
}

// checkBounds rejects records whose sizes exceed the Max* limits. It does
// not check meaning (that is the state's job), only what bounds memory.
func checkBounds(rec Record, allowBatch bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("metadata: %T: %s: %w", rec, fmt.Sprintf(format, args...), ErrInvalidRecord)
	}
	switch r := rec.(type) {
	case nil:
		return fmt.Errorf("metadata: nil record: %w", ErrInvalidRecord)
	case RegisterBroker:
		if len(r.Host) > MaxHostLen || len(r.Rack) > MaxHostLen {
			return bad("host or rack longer than %d bytes", MaxHostLen)
		}
	case CreateTopic:
		if len(r.Name) > MaxTopicNameLen {
			return bad("name longer than %d bytes", MaxTopicNameLen)
		}
		if err := checkPartitionBounds(r.Partitions); err != nil {
			return bad("%v", err)
		}
		if err := checkConfigBounds(r.Configs, nil); err != nil {
			return bad("%v", err)
		}
	case CreatePartitions:
		if err := checkPartitionBounds(r.New); err != nil {
			return bad("%v", err)
		}
	case AlterConfigs:
		if len(r.Name) > MaxTopicNameLen {
			return bad("resource name longer than %d bytes", MaxTopicNameLen)
		}
		if err := checkConfigBounds(r.Set, r.Delete); err != nil {
			return bad("%v", err)
		}
	case ChangePartition:
		if len(r.ISR) > MaxReplicationFactor || len(r.Replicas) > MaxReplicationFactor ||
			len(r.Adding) > MaxReplicationFactor || len(r.Removing) > MaxReplicationFactor {
			return bad("more than %d replicas", MaxReplicationFactor)
		}
	case InitCluster:
		if len(r.ClusterID) > MaxClusterIDLen {
			return bad("cluster id longer than %d bytes", MaxClusterIDLen)
		}
	case Batch:
		if !allowBatch {
			return bad("nested batch")
		}
		if len(r.Records) > MaxBatchRecords {
			return bad("%d records exceed %d", len(r.Records), MaxBatchRecords)
		}
		for _, sub := range r.Records {
			if err := checkBounds(sub, false); err != nil {
				return err
			}
		}
	case DeleteTopic, AllocateProducerIDs, FenceBroker, UnfenceBroker, UnregisterBroker:
	default:
		return bad("unknown record type")
	}
	return nil
}

func checkPartitionBounds(ps []PartitionAssignment) error {
	if len(ps) > MaxPartitionsPerTopic {
		return fmt.Errorf("%d partitions exceed %d", len(ps), MaxPartitionsPerTopic)
	}
	for _, p := range ps {
		if len(p.Replicas) > MaxReplicationFactor || len(p.ISR) > MaxReplicationFactor ||
			len(p.Adding) > MaxReplicationFactor || len(p.Removing) > MaxReplicationFactor {
			return fmt.Errorf("partition %d has more than %d replicas", p.Partition, MaxReplicationFactor)
		}
	}
	return nil
}

func checkConfigBounds(set map[string]string, del []string) error {
	if len(set) > MaxConfigsPerResource || len(del) > MaxConfigsPerResource {
		return fmt.Errorf("more than %d configs", MaxConfigsPerResource)
	}
	for k, v := range set {
		if len(k) > MaxConfigNameLen || len(v) > MaxConfigValueLen {
			return fmt.Errorf("config %.40q exceeds the name (%d) or value (%d) length limit", k, MaxConfigNameLen, MaxConfigValueLen)
		}
	}
	for _, k := range del {
		if len(k) > MaxConfigNameLen {
			return fmt.Errorf("config name longer than %d bytes", MaxConfigNameLen)
		}
	}
	return nil
}
