package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// memLog is a Log backed by a metadata.State, without Raft: proposals go
// through the real record codec and state machine.
type memLog struct {
	mu         sync.Mutex
	state      *metadata.State
	index      uint64
	leaderErr  error // returned by LeaderImage and Propose
	proposeErr error // returned by Propose only
	proposals  int
}

func newMemLog() *memLog { return &memLog{state: metadata.NewState()} }

func (m *memLog) LeaderImage(context.Context) (metadata.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaderErr != nil {
		return metadata.Image{}, m.leaderErr
	}
	return m.state.Image(), nil
}

func (m *memLog) Propose(_ context.Context, rec metadata.Record) (metadata.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leaderErr != nil {
		return metadata.Image{}, m.leaderErr
	}
	if m.proposeErr != nil {
		return metadata.Image{}, m.proposeErr
	}
	data, err := metadata.EncodeRecord(rec)
	if err != nil {
		return metadata.Image{}, err
	}
	dec, err := metadata.DecodeRecord(data)
	if err != nil {
		return metadata.Image{}, err
	}
	m.proposals++
	m.index++
	err = m.state.Apply(m.index, dec)
	return m.state.Image(), err
}

func (m *memLog) image() metadata.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Image()
}

func (m *memLog) apply(t *testing.T, rec metadata.Record) {
	t.Helper()
	if _, err := m.Propose(context.Background(), rec); err != nil {
		t.Fatalf("apply %T: %v", rec, err)
	}
}

// newTestController returns a controller over a memLog with brokers
// registered (ids 1..n).
func newTestController(t *testing.T, brokers int, mut ...func(*Config)) (*Controller, *memLog) {
	t.Helper()
	m := newMemLog()
	for id := 1; id <= brokers; id++ {
		m.apply(t, metadata.RegisterBroker{NodeID: int32(id), Host: "127.0.0.1", Port: int32(9090 + id)})
	}
	cfg := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range mut {
		f(&cfg)
	}
	return New(m, cfg), m
}

func str(s string) *string { return &s }

// checkErr compares a Kafka error code and message.
func checkErr(t *testing.T, what string, got *kerr.Error, msg string, want *kerr.Error, wantMsg string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error %v (%q), want %v", what, got, msg, want)
	}
	if wantMsg != "" && !strings.Contains(msg, wantMsg) {
		t.Fatalf("%s: message %q, want it to contain %q", what, msg, wantMsg)
	}
}

func ctx() context.Context { return context.Background() }
