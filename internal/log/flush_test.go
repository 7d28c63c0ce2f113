package log

import (
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestFlushPolicy(t *testing.T) {
	type step struct {
		append  bool          // append a one-record batch
		advance time.Duration // then advance the clock
		maybe   bool          // then call MaybeFlush
		flush   bool          // then call Flush
		syncs   int64         // .log fsyncs expected so far
	}
	tests := []struct {
		name   string
		config func(c *Config)
		steps  []step
	}{
		{name: "never by default", steps: []step{{append: true}, {append: true, advance: time.Hour, maybe: true}, {flush: true, syncs: 1}}},
		{name: "flush.messages", config: func(c *Config) { c.FlushMessages = 3 }, steps: []step{
			{append: true}, {append: true}, {append: true, syncs: 1}, {append: true, maybe: true, syncs: 1},
			{append: true, syncs: 1}, {append: true, syncs: 2},
		}},
		{name: "flush.ms on append", config: func(c *Config) { c.FlushMs = time.Minute }, steps: []step{
			{append: true}, {advance: 2 * time.Minute}, {append: true, syncs: 1}, {append: true, syncs: 1},
		}},
		{name: "flush.ms by MaybeFlush", config: func(c *Config) { c.FlushMs = time.Minute }, steps: []step{
			{append: true, maybe: true}, {advance: 2 * time.Minute, maybe: true, syncs: 1}, {maybe: true, syncs: 1},
		}},
		{name: "fsync on ack", config: func(c *Config) { c.FsyncOnAck = true }, steps: []step{
			{append: true, syncs: 1}, {append: true, syncs: 2}, {maybe: true, syncs: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig(clock)
			cfg.SegmentBytes = 1 << 20
			if tc.config != nil {
				tc.config(&cfg)
			}
			mem := vfs.NewMemFS()
			fsys := &slowSyncFS{FS: mem}
			l := openLog(t, fsys, "/f", cfg)
			fsys.syncs.Store(0)
			for i, st := range tc.steps {
				if st.append {
					mustAppend(t, l, simpleBatch(1, clock.Ms(), 10), 0)
				}
				clock.Advance(st.advance)
				if st.maybe {
					if err := l.MaybeFlush(); err != nil {
						t.Fatal(err)
					}
				}
				if st.flush {
					if err := l.Flush(); err != nil {
						t.Fatal(err)
					}
				}
				if got := fsys.syncs.Load(); got != st.syncs {
					t.Fatalf("step %d: %d fsyncs, want %d", i, got, st.syncs)
				}
			}
			// Whatever was flushed survives a power loss.
			end := l.LogEndOffset()
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			crashed := openLog(t, mem.Crash(vfs.CrashOptions{}), "/f", cfg)
			if crashed.LogEndOffset() != end {
				t.Fatalf("after Flush and crash: end %d, want %d", crashed.LogEndOffset(), end)
			}
			crashed.Close()
			l.Close()
		})
	}
}
