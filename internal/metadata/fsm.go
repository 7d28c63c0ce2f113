package metadata

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
)

// fsm adapts State to raft.FSM. Raft calls Apply, Snapshot and Restore from
// one goroutine (its FSM goroutine), and Restore also from NewRaft before
// that goroutine starts, so state needs no lock. Every new image is handed
// to publish, which must not block.
type fsm struct {
	state   *State
	publish func(Image)
	log     *slog.Logger
}

// applyResult is what Apply returns to the proposer through the
// ApplyFuture: the image right after the record, and why the record was
// rejected (nil if it was applied).
type applyResult struct {
	img Image
	err error
}

// Apply implements raft.FSM. Only LogCommand entries reach it.
func (f *fsm) Apply(l *raft.Log) any {
	rec, err := DecodeRecord(l.Data)
	if err != nil {
		// Every node decodes the same bytes and rejects them the same way,
		// so skipping the entry keeps the replicas identical.
		f.log.Error("metadata: undecodable record in the log", "index", l.Index, "err", err)
		rec = nil
	}
	err = f.state.Apply(l.Index, rec)
	img := f.state.Image()
	f.publish(img)
	return applyResult{img: img, err: err}
}

// Snapshot implements raft.FSM. Images are immutable, so the snapshot just
// keeps the current one; Persist may then run concurrently with Apply.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{img: f.state.Image()}, nil
}

// Restore implements raft.FSM: it replaces the whole state.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	img, err := ReadSnapshot(rc)
	if err != nil {
		return fmt.Errorf("metadata: restore snapshot: %w", err)
	}
	f.state = NewStateFrom(img)
	f.publish(img)
	return nil
}

type fsmSnapshot struct{ img Image }

// Persist implements raft.FSMSnapshot.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := WriteSnapshot(sink, s.img); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("metadata: persist snapshot at %d: %w", s.img.Index(), err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("metadata: persist snapshot at %d: %w", s.img.Index(), err)
	}
	return nil
}

// Release implements raft.FSMSnapshot.
func (fsmSnapshot) Release() {}
