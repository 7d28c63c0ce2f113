package metadata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// Snapshot format (the body of a Raft snapshot, written by the FSM):
//
//	"SAMSA-METADATA-SNAPSHOT v1\n"
//	JSON object: index, cluster_id, next_producer_id, brokers (by id),
//	             topics (by name, partitions in order, configs),
//	             broker_configs (by resource name)
//
// The output is canonical: the same image always gives the same bytes.
// Reading re-validates everything with the same rules as State.Apply, so a
// damaged snapshot is refused instead of producing an inconsistent image.

const snapshotMagic = "SAMSA-METADATA-SNAPSHOT v1\n"

// MaxSnapshotBytes bounds a snapshot read back from disk or from a peer.
const MaxSnapshotBytes = 1 << 30

// snapshotLimit is MaxSnapshotBytes; tests lower it.
var snapshotLimit int64 = MaxSnapshotBytes

type snapshotTopic struct {
	Name       string                `json:"name"`
	ID         TopicID               `json:"id"`
	Partitions []PartitionAssignment `json:"parts"`
	Configs    map[string]string     `json:"configs,omitempty"`
}

type snapshotBrokerConfigs struct {
	Name    string            `json:"name"`
	Configs map[string]string `json:"configs"`
}

type snapshotV1 struct {
	Index          uint64                  `json:"index"`
	ClusterID      string                  `json:"cluster_id"`
	NextProducerID int64                   `json:"next_producer_id"`
	Brokers        []Broker                `json:"brokers"`
	Topics         []snapshotTopic         `json:"topics"`
	BrokerConfigs  []snapshotBrokerConfigs `json:"broker_configs"`
}

// WriteSnapshot writes img to w in the snapshot format.
func WriteSnapshot(w io.Writer, img Image) error {
	d := img.data()
	s := snapshotV1{
		Index:          d.index,
		ClusterID:      d.clusterID,
		NextProducerID: d.nextProducerID,
		Brokers:        img.Brokers(),
		Topics:         make([]snapshotTopic, 0, len(d.topicsByName)),
		BrokerConfigs:  make([]snapshotBrokerConfigs, 0, len(d.brokerConfigs)),
	}
	for _, t := range img.Topics() {
		s.Topics = append(s.Topics, snapshotTopic{Name: t.Name, ID: t.ID, Partitions: t.Partitions, Configs: t.Configs})
	}
	for name, cfg := range d.brokerConfigs {
		s.BrokerConfigs = append(s.BrokerConfigs, snapshotBrokerConfigs{Name: name, Configs: cfg})
	}
	sort.Slice(s.BrokerConfigs, func(i, j int) bool { return s.BrokerConfigs[i].Name < s.BrokerConfigs[j].Name })

	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return fmt.Errorf("metadata: write snapshot: %w", err)
	}
	if err := json.NewEncoder(bw).Encode(&s); err != nil {
		return fmt.Errorf("metadata: write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("metadata: write snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot reads an image written by WriteSnapshot. It reads at most
// MaxSnapshotBytes and validates the result; errors wrap ErrInvalidRecord
// when the content (rather than the reader) is at fault.
func ReadSnapshot(r io.Reader) (Image, error) {
	lr := &io.LimitedReader{R: r, N: snapshotLimit + 1}
	br := bufio.NewReader(lr)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Image{}, fmt.Errorf("metadata: read snapshot: truncated header: %w", ErrInvalidRecord)
		}
		return Image{}, fmt.Errorf("metadata: read snapshot: %w", err)
	}
	if !bytes.Equal(magic, []byte(snapshotMagic)) {
		return Image{}, fmt.Errorf("metadata: read snapshot: bad header %q: %w", magic, ErrInvalidRecord)
	}
	var s snapshotV1
	if err := json.NewDecoder(br).Decode(&s); err != nil {
		if lr.N <= 0 {
			return Image{}, fmt.Errorf("metadata: read snapshot: larger than %d bytes: %w", snapshotLimit, ErrInvalidRecord)
		}
		return Image{}, fmt.Errorf("metadata: read snapshot: %v: %w", err, ErrInvalidRecord)
	}
	img, err := s.image()
	if err != nil {
		if !errors.Is(err, ErrInvalidRecord) {
			err = fmt.Errorf("%w: %w", err, ErrInvalidRecord)
		}
		return Image{}, fmt.Errorf("metadata: read snapshot: %w", err)
	}
	return img, nil
}

// image rebuilds an image by replaying the snapshot's content as records,
// which re-checks every invariant and rebuilds the indexes.
func (s *snapshotV1) image() (Image, error) {
	b := newBuilder(emptyData)
	for _, br := range s.Brokers {
		if _, dup := b.d.brokers[br.NodeID]; dup {
			return Image{}, invalid("broker %d listed twice", br.NodeID)
		}
		reg := RegisterBroker{NodeID: br.NodeID, Host: br.Host, Port: br.Port, Rack: br.Rack, IncarnationID: br.IncarnationID}
		if err := b.apply(uint64(max(br.Epoch, 0)), reg, false); err != nil {
			return Image{}, err
		}
		b.d.brokers[br.NodeID].Epoch = br.Epoch
	}
	for _, t := range s.Topics {
		if err := b.apply(0, CreateTopic{Name: t.Name, TopicID: t.ID, Partitions: t.Partitions, Configs: t.Configs}, false); err != nil {
			return Image{}, err
		}
	}
	for _, bc := range s.BrokerConfigs {
		if _, dup := b.d.brokerConfigs[bc.Name]; dup {
			return Image{}, invalid("broker config resource %q listed twice", bc.Name)
		}
		if err := b.apply(0, AlterConfigs{ResourceType: ResourceBroker, Name: bc.Name, Set: bc.Configs}, false); err != nil {
			return Image{}, err
		}
	}
	if s.ClusterID != "" {
		if err := b.apply(0, InitCluster{ClusterID: s.ClusterID}, false); err != nil {
			return Image{}, err
		}
	}
	if s.NextProducerID < 0 {
		return Image{}, invalid("negative next producer id %d", s.NextProducerID)
	}
	b.d.nextProducerID = s.NextProducerID
	b.d.index = s.Index
	return Image{d: b.d}, nil
}
