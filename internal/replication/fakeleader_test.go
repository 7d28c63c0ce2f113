package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// makeBatch builds a record batch v2 of n records at base, stamped with the
// leader epoch; tag makes the values of different histories differ.
func makeBatch(base int64, epoch int32, n int, tag string) []byte {
	b := batchtest.New(n, 1_700_000_000_000)
	for i := range b.Records {
		b.Records[i].Value = fmt.Appendf(nil, "%s-e%d-o%d", tag, epoch, base+int64(i))
	}
	raw := b.Encode()
	binary.BigEndian.PutUint64(raw[0:], uint64(base))
	binary.BigEndian.PutUint32(raw[12:], uint32(epoch))
	return raw
}

// fetchSeen is one fetch request the fake leader received.
type fetchSeen struct {
	version   int16
	replicaID int32 // ReplicaID below v15, ReplicaState.ID from v15
	remoteIP  string
	parts     []fetchPartSeen
}

type fetchPartSeen struct {
	topic                                string
	partition                            int32
	fetchOffset                          int64
	lastFetchedEpoch, currentLeaderEpoch int32
}

// leaderLog is one partition on the fake leader.
type leaderLog struct {
	key      Key
	epoch    int32 // the leader epoch it leads in
	batches  [][]byte
	epochs   []epochStart
	logStart int64
	leo      int64
	hw       int64 // -1: the log end offset
	errCode  int16 // answered to every fetch when non-zero
}

// fakeLeader is an in-process leader broker for tests: a wire.Server that
// answers ApiVersions, Metadata (empty), Fetch and ListOffsets from
// in-memory logs the way a samsa leader does: KIP-320 epoch checks and
// DivergingEpoch, OFFSET_OUT_OF_RANGE, PartitionMaxBytes with at least one
// whole batch (KIP-74), long polls woken by appends.
type fakeLeader struct {
	t    testing.TB
	reg  *wire.Registry
	srv  *wire.Server
	addr string
	wg   sync.WaitGroup // long-poll goroutines

	mu sync.Mutex
	// Guarded by mu.
	logs    map[Key]*leaderLog
	changed chan struct{} // closed and replaced on every change
	fetches []fetchSeen
	listIDs []int32 // ReplicaID of every ListOffsets request
	conns   map[uint64]bool
	// partialTail appends that many bytes of the next batch after the
	// whole ones (a size-limited answer).
	partialTail int
	// noDivergenceCheck skips the LastFetchedEpoch check (a leader without
	// KIP-320), so a follower ahead gets OFFSET_OUT_OF_RANGE.
	noDivergenceCheck bool
}

// newFakeLeader starts a fake leader serving Fetch 4..maxFetch on
// 127.0.0.1 (listenAddr "" for any port).
func newFakeLeader(t testing.TB, maxFetch int16, listenAddr string) *fakeLeader {
	t.Helper()
	if listenAddr == "" {
		listenAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	reg := wire.NewRegistry()
	reg.Register(1, 4, maxFetch)
	reg.Register(2, 1, 8)
	reg.Register(3, 0, 12)
	reg.Register(18, 0, 4)
	l := &fakeLeader{
		t: t, reg: reg, addr: ln.Addr().String(),
		logs: make(map[Key]*leaderLog), changed: make(chan struct{}), conns: make(map[uint64]bool),
	}
	l.srv = wire.NewServer(wire.Config{Registry: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, l)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = l.srv.Serve(ln)
	}()
	t.Cleanup(l.close)
	return l
}

func (l *fakeLeader) close() {
	_ = l.srv.Close()
	l.wg.Wait()
}

// changedLocked wakes parked fetches. Caller holds l.mu.
func (l *fakeLeader) changedLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// lead makes the fake lead k at epoch (recording the epoch's start at its
// log end offset, as BecomeLeader does).
func (l *fakeLeader) lead(k Key, epoch int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[k]
	if lg == nil {
		lg = &leaderLog{key: k, hw: -1}
		l.logs[k] = lg
	}
	lg.epoch = epoch
	if n := len(lg.epochs); n == 0 || lg.epochs[n-1].epoch < epoch {
		lg.epochs = append(lg.epochs, epochStart{epoch, lg.leo})
	}
	l.changedLocked()
}

// produce appends batches of the given sizes at the current epoch.
func (l *fakeLeader) produce(k Key, tag string, sizes ...int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[k]
	for _, n := range sizes {
		lg.batches = append(lg.batches, makeBatch(lg.leo, lg.epoch, n, tag))
		lg.leo += int64(n)
	}
	l.changedLocked()
}

// restartAt empties k's log and restarts it at offset (old data deleted).
func (l *fakeLeader) restartAt(k Key, offset int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[k]
	lg.batches, lg.logStart, lg.leo = nil, offset, offset
	lg.epochs = []epochStart{{lg.epoch, offset}}
	l.changedLocked()
}

// seedHistory replaces k's log with batches (as if replicated earlier).
func (l *fakeLeader) seedHistory(k Key, batches ...[]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[k]
	lg.batches, lg.epochs, lg.leo = nil, nil, lg.logStart
	for _, b := range batches {
		h, err := samsalog.ParseBatchHeader(b)
		if err != nil {
			l.t.Fatalf("seed history: %v", err)
		}
		if n := len(lg.epochs); n == 0 || h.PartitionLeaderEpoch > lg.epochs[n-1].epoch {
			lg.epochs = append(lg.epochs, epochStart{h.PartitionLeaderEpoch, h.BaseOffset})
		}
		lg.batches = append(lg.batches, b)
		lg.leo = h.LastOffset() + 1
	}
	if n := len(lg.epochs); n == 0 || lg.epochs[n-1].epoch < lg.epoch {
		lg.epochs = append(lg.epochs, epochStart{lg.epoch, lg.leo})
	}
	l.changedLocked()
}

func (l *fakeLeader) setError(k Key, code int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs[k].errCode = code
	l.changedLocked()
}

func (l *fakeLeader) setHW(k Key, hw int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logs[k].hw = hw
	l.changedLocked()
}

// data returns k's bytes and log end offset.
func (l *fakeLeader) data(k Key) ([]byte, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.logs[k]
	return bytes.Join(lg.batches, nil), lg.leo
}

// seen returns a copy of the fetches received so far.
func (l *fakeLeader) seen() []fetchSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]fetchSeen(nil), l.fetches...)
}

// openConns returns how many connections are open.
func (l *fakeLeader) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, open := range l.conns {
		if open {
			n++
		}
	}
	return n
}

// Handle serves one request (wire.Handler).
func (l *fakeLeader) Handle(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	l.mu.Lock()
	if req.Conn != nil && !l.conns[req.Conn.ID] {
		if _, known := l.conns[req.Conn.ID]; !known {
			l.conns[req.Conn.ID] = true
			l.wg.Add(1)
			go func(id uint64) { // notice the close
				defer l.wg.Done()
				<-ctx.Done()
				l.mu.Lock()
				l.conns[id] = false
				l.mu.Unlock()
			}(req.Conn.ID)
		}
	}
	l.mu.Unlock()
	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		return &wire.Response{Msg: l.reg.ApiVersionsResponse(req.Version)}, nil
	case *kmsg.MetadataRequest:
		return &wire.Response{Msg: body.ResponseKind()}, nil
	case *kmsg.FetchRequest:
		return l.handleFetch(ctx, req, body), nil
	case *kmsg.ListOffsetsRequest:
		return &wire.Response{Msg: l.listOffsets(body)}, nil
	}
	return nil, fmt.Errorf("fake leader: unexpected request key %d", req.Key)
}

func (l *fakeLeader) handleFetch(ctx context.Context, wreq *wire.Request, req *kmsg.FetchRequest) *wire.Response {
	l.mu.Lock()
	seen := fetchSeen{version: req.Version, replicaID: req.ReplicaID}
	if req.Version >= 15 {
		seen.replicaID = req.ReplicaState.ID
	}
	if wreq.Conn != nil {
		if a, ok := wreq.Conn.RemoteAddr.(*net.TCPAddr); ok {
			seen.remoteIP = a.IP.String()
		}
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			name := t.Topic
			if lg := l.findLocked(req.Version, t.Topic, t.TopicID, p.Partition); lg != nil {
				name = lg.key.Topic
			}
			seen.parts = append(seen.parts, fetchPartSeen{name, p.Partition, p.FetchOffset, p.LastFetchedEpoch, p.CurrentLeaderEpoch})
		}
	}
	l.fetches = append(l.fetches, seen)
	resp, news := l.buildFetchLocked(req)
	changed := l.changed
	l.mu.Unlock()
	if news || req.MaxWaitMillis <= 0 {
		return &wire.Response{Msg: resp}
	}
	out := &wire.Response{}
	ready := make(chan struct{})
	out.Ready = ready
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
		defer t.Stop()
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		l.mu.Lock()
		out.Msg, _ = l.buildFetchLocked(req)
		l.mu.Unlock()
		close(ready)
	}()
	return out
}

func (l *fakeLeader) findLocked(version int16, topic string, id [16]byte, partition int32) *leaderLog {
	for k, lg := range l.logs {
		if k.Partition != partition {
			continue
		}
		if (version >= 13 && k.TopicID == id) || (version < 13 && k.Topic == topic) {
			return lg
		}
	}
	return nil
}

// buildFetchLocked answers req; news reports whether any partition has
// records, an error or a divergence. Caller holds l.mu.
func (l *fakeLeader) buildFetchLocked(req *kmsg.FetchRequest) (*kmsg.FetchResponse, bool) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	news := false
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			lg := l.findLocked(req.Version, t.Topic, t.TopicID, p.Partition)
			if lg == nil {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				l.answerPartitionLocked(lg, &p, &rp)
			}
			if rp.ErrorCode != 0 || rp.DivergingEpoch.EndOffset >= 0 || len(rp.RecordBatches) > 0 {
				news = true
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, news
}

func (l *fakeLeader) answerPartitionLocked(lg *leaderLog, p *kmsg.FetchRequestTopicPartition, rp *kmsg.FetchResponseTopicPartition) {
	rp.HighWatermark = lg.hw
	if lg.hw < 0 {
		rp.HighWatermark = lg.leo
	}
	rp.LastStableOffset, rp.LogStartOffset = rp.HighWatermark, lg.logStart
	switch {
	case lg.errCode != 0:
		rp.ErrorCode = lg.errCode
		return
	case p.CurrentLeaderEpoch >= 0 && p.CurrentLeaderEpoch < lg.epoch:
		rp.ErrorCode = kerr.FencedLeaderEpoch.Code
		return
	case p.CurrentLeaderEpoch > lg.epoch:
		rp.ErrorCode = kerr.UnknownLeaderEpoch.Code
		return
	}
	fo := p.FetchOffset
	if p.LastFetchedEpoch >= 0 && !l.noDivergenceCheck {
		e, end := endOffsetFor(lg.epochs, p.LastFetchedEpoch, lg.leo)
		if e < 0 || fo < lg.logStart {
			rp.ErrorCode = kerr.OffsetOutOfRange.Code
			return
		}
		if e < p.LastFetchedEpoch || end < fo {
			rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = e, end
			return
		}
	}
	if fo < lg.logStart || fo > lg.leo {
		rp.ErrorCode = kerr.OffsetOutOfRange.Code
		return
	}
	var out []byte
	i := 0
	for i < len(lg.batches) {
		h, _ := samsalog.ParseBatchHeader(lg.batches[i])
		if h.LastOffset() >= fo {
			break
		}
		i++
	}
	for ; i < len(lg.batches); i++ {
		b := lg.batches[i]
		if len(out) > 0 && len(out)+len(b) > int(p.PartitionMaxBytes) {
			break
		}
		out = append(out, b...)
	}
	if i < len(lg.batches) && len(out) > 0 && l.partialTail > 0 {
		out = append(out, lg.batches[i][:min(l.partialTail, len(lg.batches[i])-1)]...)
	}
	rp.RecordBatches = out
}

func (l *fakeLeader) listOffsets(req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listIDs = append(l.listIDs, req.ReplicaID)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = p.Partition
			lg := l.findLocked(0, t.Topic, [16]byte{}, p.Partition)
			switch {
			case lg == nil:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case p.Timestamp == -1:
				rp.Offset = lg.leo
			case p.Timestamp == -2:
				rp.Offset = lg.logStart
			default:
				rp.ErrorCode = kerr.InvalidRequest.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
