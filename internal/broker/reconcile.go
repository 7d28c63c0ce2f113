package broker

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replication"
)

// partitionMetadataFile is Kafka's per-partition file naming the topic id, so
// a directory left by a deleted topic is never mistaken for a new topic of
// the same name.
const partitionMetadataFile = "partition.metadata"

// reconcile makes the local replicas match a metadata image: opens replicas
// assigned to this node, deletes those of deleted topics, applies config
// changes and leader epochs, then publishes a new cluster view.
func (b *Broker) reconcile(img metadata.Image) error {
	b.localMu.Lock()
	defer b.localMu.Unlock()
	var errs []error
	for id, parts := range b.local {
		if _, ok := img.TopicByID(id); ok {
			continue
		}
		for i, p := range parts {
			if p == nil {
				continue
			}
			if err := b.dropReplica(replication.Key{TopicID: id, Topic: p.Topic(), Partition: int32(i)}, p, "its topic was deleted"); err != nil {
				errs = append(errs, err)
			}
		}
		delete(b.local, id)
	}
	for _, t := range img.Topics() {
		parts := b.local[t.ID]
		for len(parts) < len(t.Partitions) {
			parts = append(parts, nil)
		}
		settings, err := b.settingsFor(img, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Name, err))
			continue
		}
		for i, pa := range t.Partitions {
			p := parts[i]
			if !slices.Contains(pa.Replicas, b.nodeID) {
				if p != nil {
					if err := b.dropReplica(replicaKey(t, int32(i)), p, "a reassignment moved it to other brokers"); err != nil {
						errs = append(errs, err)
					}
					parts[i] = nil
				}
				continue
			}
			if p == nil {
				p, err = b.openPartition(t, int32(i), settings)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				parts[i] = p
			} else if !p.Settings().Equal(settings) {
				p.SetSettings(settings)
			}
			if err := b.applyRole(t, int32(i), pa, p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
			}
		}
		b.local[t.ID] = parts
	}
	b.publishView(img)
	b.updateGroupLeadership()
	return errors.Join(errs...)
}

// dropReplica stops fetching for a local replica and deletes it.
func (b *Broker) dropReplica(key replication.Key, p *partition.Partition, why string) error {
	b.replicas.Unfollow(key)
	if err := p.Delete(); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	b.lg.Info("deleted a local replica", "partition", p.String(), "because", why)
	return nil
}

// replicaKey names a partition for the replica fetchers.
func replicaKey(t *metadata.Topic, index int32) replication.Key {
	return replication.Key{TopicID: t.ID, Topic: t.Name, Partition: index}
}

// applyRole makes a local replica lead or follow as the metadata says, and
// starts or stops its replica fetcher.
func (b *Broker) applyRole(t *metadata.Topic, index int32, pa metadata.PartitionAssignment, p *partition.Partition) error {
	key := replicaKey(t, index)
	switch {
	case pa.Leader == b.nodeID:
		b.replicas.Unfollow(key)
		if err := p.BecomeLeader(pa.LeaderEpoch, pa.Replicas, pa.ISR, time.Now()); err != nil {
			return fmt.Errorf("become leader: %w", err)
		}
		p.UpdateISR(pa.ISR)
	case pa.Leader >= 0:
		if err := p.BecomeFollower(pa.LeaderEpoch, pa.Leader); err != nil {
			return fmt.Errorf("become follower: %w", err)
		}
		b.replicas.Follow(key, pa.Leader, pa.LeaderEpoch, p)
	default:
		b.replicas.Unfollow(key)
		if err := p.BecomeFollower(pa.LeaderEpoch, metadata.NoLeader); err != nil {
			return fmt.Errorf("become follower: %w", err)
		}
	}
	return nil
}

// openPartition opens (creating if needed) a local replica and records its
// topic id in partition.metadata.
func (b *Broker) openPartition(t *metadata.Topic, index int32, s partition.Settings) (*partition.Partition, error) {
	dir := filepath.Join(b.cfg.DataDir, fmt.Sprintf("%s-%d", t.Name, index))
	if id, err := b.readPartitionMetadata(dir); err == nil && id != t.ID {
		// A stale directory of a deleted topic with the same name.
		if err := b.fsys.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w", dir, err)
		}
	}
	p, err := partition.OpenReplica(b.fsys, dir, t.Name, index, b.nodeID, s, b.lg)
	if err != nil {
		return nil, err
	}
	if err := b.writePartitionMetadata(dir, t.ID); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (b *Broker) writePartitionMetadata(dir string, id metadata.TopicID) error {
	path := filepath.Join(dir, partitionMetadataFile)
	if _, err := b.fsys.Stat(path); err == nil {
		return nil
	}
	f, err := b.fsys.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = fmt.Fprintf(f, "version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(id[:]))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return b.fsys.SyncDir(dir)
}

func (b *Broker) readPartitionMetadata(dir string) (metadata.TopicID, error) {
	var id metadata.TopicID
	f, err := b.fsys.Open(filepath.Join(dir, partitionMetadataFile))
	if err != nil {
		return id, err
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil || len(raw) != 16 {
				return id, fmt.Errorf("%s: bad topic_id %q", dir, v)
			}
			copy(id[:], raw)
			return id, nil
		}
	}
	return id, fmt.Errorf("%s: no topic_id", dir)
}

// removeStrayPartitionDirs deletes partition directories whose topic no
// longer exists (deleted while this node was down). Only directories with a
// partition.metadata file are considered.
func (b *Broker) removeStrayPartitionDirs() error {
	names, err := b.fsys.List(b.cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	img := b.meta.Image()
	b.localMu.Lock()
	defer b.localMu.Unlock()
	for _, name := range names {
		dir := filepath.Join(b.cfg.DataDir, name)
		id, err := b.readPartitionMetadata(dir)
		if err != nil {
			continue
		}
		if t, ok := img.TopicByID(id); ok && strings.HasPrefix(name, t.Name+"-") {
			idx, err := strconv.Atoi(strings.TrimPrefix(name, t.Name+"-"))
			pa, found := t.Partition(int32(idx))
			if err != nil || !found || slices.Contains(pa.Replicas, b.nodeID) {
				continue
			}
			b.lg.Info("removing a replica that was moved to other brokers", "dir", dir)
		} else {
			b.lg.Info("removing directory of a deleted topic", "dir", dir)
		}
		if err := b.fsys.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// publishView builds and publishes the cluster view for img and the current
// local replicas. Callers hold localMu.
func (b *Broker) publishView(img metadata.Image) {
	v := &clusterView{
		clusterID:  img.ClusterID(),
		topics:     make(map[string]*topicView, img.TopicCount()),
		topicsByID: make(map[[16]byte]*topicView, img.TopicCount()),
	}
	for _, br := range img.Brokers() {
		if br.Fenced {
			continue // Kafka lists only unfenced brokers to clients
		}
		v.brokers = append(v.brokers, brokerView{nodeID: br.NodeID, host: br.Host, port: br.Port, rack: br.Rack})
	}
	for _, t := range img.Topics() {
		tv := &topicView{name: t.Name, id: t.ID, internal: metadata.IsInternalTopic(t.Name), configs: t.Configs}
		local := b.local[t.ID]
		tv.partitions = make([]partitionView, len(t.Partitions))
		for i, pa := range t.Partitions {
			pv := partitionView{index: int32(i), leader: pa.Leader, leaderEpoch: pa.LeaderEpoch,
				partitionEpoch: pa.PartitionEpoch, replicas: pa.Replicas, isr: pa.ISR,
				adding: pa.Adding, removing: pa.Removing}
			for _, r := range pa.Replicas {
				if !img.IsLive(r) {
					pv.offline = append(pv.offline, r)
				}
			}
			if i < len(local) {
				pv.local = local[i]
			}
			tv.partitions[i] = pv
		}
		v.topics[t.Name] = tv
		v.topicsByID[t.ID] = tv
	}
	b.view_.Store(v)
}
