package log

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

const recDir = "/data/t-0"

// recoveryLog builds a log of three segments (batches of 2 records, 2
// batches per segment, 12 offsets) on a MemFS and returns the fs and the
// batches as stored.
func recoveryLog(t *testing.T, closeClean bool) (*vfs.MemFS, Config, [][]byte) {
	t.Helper()
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 1
	fsys := vfs.NewMemFS()
	l := openLog(t, fsys, recDir, cfg)
	for i := range 6 {
		mustAppend(t, l, simpleBatch(2, int64(1000+i), 200), 1)
	}
	_, bs := readAllBatches(t, l)
	if l.SegmentCount() != 3 {
		t.Fatalf("setup: %d segments", l.SegmentCount())
	}
	if closeClean {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	return fsys, cfg, bs
}

func segPath(base int64, suffix string) string {
	return filepath.Join(recDir, segmentName(base)+suffix)
}

// patch overwrites bytes of a file.
func patch(t *testing.T, fsys vfs.FS, path string, off int64, b []byte) {
	t.Helper()
	f, err := fsys.OpenReadWrite(path)
	if err != nil {
		if f, err = fsys.Create(path); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func truncateFile(t *testing.T, fsys vfs.FS, path string, size int64) {
	t.Helper()
	f, err := fsys.OpenReadWrite(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func fileSize(t *testing.T, fsys vfs.FS, path string) int64 {
	t.Helper()
	fi, err := fsys.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCleanOpenReadsNoSegment(t *testing.T) {
	fsys, cfg, _ := recoveryLog(t, true)
	probe := fsys.InjectFault(vfs.Fault{Ops: vfs.OpRead | vfs.OpOpen, Suffix: ".log", N: 1 << 30})
	probeIx := fsys.InjectFault(vfs.Fault{Ops: vfs.OpRead | vfs.OpOpen, Suffix: "index", N: 1 << 30})
	l := openLog(t, fsys, recDir, cfg)
	if probe.Seen() != 0 || probeIx.Seen() != 0 {
		t.Fatalf("clean open touched %d .log and %d index operations", probe.Seen(), probeIx.Seen())
	}
	if l.LogEndOffset() != 12 {
		t.Fatalf("end %d", l.LogEndOffset())
	}
	// The marker goes before the first change.
	mustAppend(t, l, simpleBatch(1, 1, 1), 1)
	if _, err := fsys.Stat(filepath.Join(recDir, cleanMarkerFile)); err == nil {
		t.Fatal("clean-shutdown marker still present after an append")
	}
	l.Close()

	// Without Close, Open scans the newest segment.
	probe.Remove()
	probeIx.Remove()
	l = openLog(t, fsys, recDir, cfg)
	mustAppend(t, l, simpleBatch(1, 1, 1), 1)
	probe = fsys.InjectFault(vfs.Fault{Ops: vfs.OpRead, Suffix: ".log", N: 1 << 30})
	l2 := openLog(t, fsys, recDir, cfg)
	if probe.Seen() == 0 {
		t.Fatal("unclean open did not scan")
	}
	if l2.LogEndOffset() != 14 {
		t.Fatalf("end %d", l2.LogEndOffset())
	}
	l2.Close()
}

func TestRecoveryOfNewestSegment(t *testing.T) {
	// Damage that keeps every file's size is not seen after a clean
	// shutdown (the marker is trusted); those cases run unclean only.
	tests := []struct {
		name     string
		damage   func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte)
		wantEnd  int64
		sameSize bool
	}{
		{name: "intact", damage: func(*testing.T, vfs.FS, int64, [][]byte) {}, wantEnd: 12},
		{name: "torn header", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), size, bs[0][:30])
		}, wantEnd: 12},
		{name: "torn batch", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), size, bs[0][:200])
		}, wantEnd: 12},
		{name: "zero tail", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), size, make([]byte, 4096))
		}, wantEnd: 12},
		{name: "last batch cut", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			truncateFile(t, fsys, segPath(8, ".log"), size-1)
		}, wantEnd: 10},
		{name: "crc of last batch", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), size-5, []byte{0xee})
		}, wantEnd: 10, sameSize: true},
		{name: "crc of first batch drops the rest", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), 100, []byte{0xee})
		}, wantEnd: 8, sameSize: true},
		{name: "wrong offset", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), int64(len(bs[4]))+7, []byte{99})
		}, wantEnd: 10, sameSize: true},
		{name: "duplicate batch appended", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".log"), size, bs[5])
		}, wantEnd: 12},
		{name: "garbage indexes", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			patch(t, fsys, segPath(8, ".index"), 0, bytes.Repeat([]byte{0x5a}, 37))
			patch(t, fsys, segPath(8, ".timeindex"), 0, bytes.Repeat([]byte{0xa5}, 24))
		}, wantEnd: 12},
		{name: "missing indexes", damage: func(t *testing.T, fsys vfs.FS, size int64, bs [][]byte) {
			fsys.Remove(segPath(8, ".index"))
			fsys.Remove(segPath(8, ".timeindex"))
		}, wantEnd: 12},
	}
	for _, tc := range tests {
		for _, clean := range []bool{false, true} {
			if clean && tc.sameSize {
				continue
			}
			name := tc.name + map[bool]string{false: "/unclean", true: "/clean-marker-mismatch"}[clean]
			t.Run(name, func(t *testing.T) {
				fsys, cfg, bs := recoveryLog(t, clean)
				size := fileSize(t, fsys, segPath(8, ".log"))
				tc.damage(t, fsys, size, bs)
				l := openLog(t, fsys, recDir, cfg)
				defer l.Close()
				if l.LogEndOffset() != tc.wantEnd {
					t.Fatalf("end %d, want %d", l.LogEndOffset(), tc.wantEnd)
				}
				_, got := readAllBatches(t, l)
				for i, b := range got {
					if !bytes.Equal(b, bs[i]) {
						t.Fatalf("batch %d differs after recovery", i)
					}
				}
				checkIndexes(t, l)
				res := mustAppend(t, l, simpleBatch(1, 5, 5), 1)
				if res.BaseOffset != tc.wantEnd {
					t.Fatalf("append after recovery at %d", res.BaseOffset)
				}
			})
		}
	}
}

func TestDamagedSealedSegment(t *testing.T) {
	tests := []struct {
		name       string
		damage     func(t *testing.T, fsys vfs.FS, bs [][]byte)
		readOK     []int64 // offsets that still read
		readBad    []int64 // offsets whose read is ErrCorruptLog
		scanBroken bool
	}{
		{name: "header of second batch", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			patch(t, fsys, segPath(4, ".log"), int64(len(bs[2]))+8, []byte{0x7f, 0xff, 0xff, 0xff}) // batch length
		}, readOK: []int64{4, 5, 8, 11}, readBad: []int64{6, 7}, scanBroken: true},
		{name: "record bytes (crc)", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			patch(t, fsys, segPath(4, ".log"), 300, []byte{0xee})
		}, readOK: []int64{6, 8}, scanBroken: true}, // reads do not check CRCs; clients do
		{name: "file cut short", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			truncateFile(t, fsys, segPath(4, ".log"), int64(len(bs[2]))+100)
		}, readOK: []int64{4, 5}, readBad: []int64{6, 7}, scanBroken: true},
		{name: "garbage indexes", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			patch(t, fsys, segPath(4, ".index"), 0, bytes.Repeat([]byte{0x5a}, 16))
			patch(t, fsys, segPath(4, ".timeindex"), 0, bytes.Repeat([]byte{0x01}, 13))
		}, readOK: []int64{4, 5, 6, 7}},
		{name: "plausible but wrong index", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			// relative offset 1 at position 100: sorted and in range, but not a batch.
			patch(t, fsys, segPath(4, ".index"), 0, []byte{0, 0, 0, 1, 0, 0, 0, 100})
		}, readOK: []int64{4, 5, 6, 7}},
		{name: "missing indexes", damage: func(t *testing.T, fsys vfs.FS, bs [][]byte) {
			fsys.Remove(segPath(4, ".index"))
			fsys.Remove(segPath(4, ".timeindex"))
		}, readOK: []int64{4, 5, 6, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, cfg, bs := recoveryLog(t, true)
			tc.damage(t, fsys, bs)
			l := openLog(t, fsys, recDir, cfg)
			defer l.Close()
			for _, off := range tc.readOK {
				r, err := l.Read(off, 1, l.LogEndOffset())
				if err != nil {
					t.Fatalf("Read(%d): %v", off, err)
				}
				got, err := r.AppendTo(nil)
				r.Release()
				if err != nil || !bytes.Equal(got, bs[off/2]) {
					t.Fatalf("Read(%d) returned other bytes (%v)", off, err)
				}
			}
			for _, off := range tc.readBad {
				_, err := l.Read(off, 1, l.LogEndOffset())
				var ce *CorruptionError
				if !errors.Is(err, ErrCorruptLog) || !errors.As(err, &ce) || ce.File != segPath(4, ".log") {
					t.Fatalf("Read(%d) = %v, want ErrCorruptLog naming the segment", off, err)
				}
			}
			err := l.ScanBatches(0, func(BatchHeader, []byte) error { return nil })
			if tc.scanBroken != errors.Is(err, ErrCorruptLog) {
				t.Fatalf("ScanBatches = %v, want corruption %v", err, tc.scanBroken)
			}
			if !tc.scanBroken {
				checkIndexes(t, l)
				if ts, off := l.MaxTimestamp(); ts != 1005 || off != 10 {
					t.Fatalf("MaxTimestamp = %d %d", ts, off)
				}
				if off, _, ok := l.OffsetForTimestamp(1002); !ok || off != 4 {
					t.Fatalf("OffsetForTimestamp = %d %v", off, ok)
				}
			}
		})
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	fsys, cfg, _ := recoveryLog(t, true)
	for _, name := range []string{"00000000000000000000.log.deleted", "leader-epoch-checkpoint.tmp", "00000000000000000099.index", "00000000000000000099.timeindex"} {
		patch(t, fsys, filepath.Join(recDir, name), 0, []byte("x"))
	}
	patch(t, fsys, filepath.Join(recDir, "unrelated.txt"), 0, []byte("x"))
	l := openLog(t, fsys, recDir, cfg)
	defer l.Close()
	names, _ := fsys.List(recDir)
	want := []string{
		"00000000000000000000.index", "00000000000000000000.log", "00000000000000000000.timeindex",
		"00000000000000000004.index", "00000000000000000004.log", "00000000000000000004.timeindex",
		"00000000000000000008.index", "00000000000000000008.log", "00000000000000000008.timeindex",
		cleanMarkerFile, "leader-epoch-checkpoint", recoveryPointFile, "unrelated.txt",
	}
	if len(names) != len(want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Fatalf("files %v, missing %s", names, w)
		}
	}
}

func TestGarbageCheckpointsAndMarker(t *testing.T) {
	tests := []struct {
		name string
		file string
		data []byte
	}{
		{"marker garbage", cleanMarkerFile, []byte("not a marker")},
		{"marker bit flip", cleanMarkerFile, nil},
		{"log start garbage", logStartCheckpointFile, []byte("0\n1\nabc\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, cfg, bs := recoveryLog(t, true)
			path := filepath.Join(recDir, tc.file)
			if tc.data == nil {
				patch(t, fsys, path, 20, []byte{0xff})
			} else {
				fsys.Remove(path)
				patch(t, fsys, path, 0, tc.data)
			}
			l := openLog(t, fsys, recDir, cfg)
			defer l.Close()
			if l.LogEndOffset() != 12 || l.LogStartOffset() != 0 {
				t.Fatalf("start %d end %d", l.LogStartOffset(), l.LogEndOffset())
			}
			_, got := readAllBatches(t, l)
			if len(got) != len(bs) {
				t.Fatalf("%d batches", len(got))
			}
		})
	}
}

// TestCrashKeepsAckedAppends crashes a MemFS at random points of a stream
// of fsync-on-ack appends: every acknowledged batch survives, the log
// reopens as a dense prefix and its indexes agree with a scan.
func TestCrashKeepsAckedAppends(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := testConfig(nil)
		cfg.SegmentBytes = 1500
		cfg.FsyncOnAck = seed%2 == 0
		fsys := vfs.NewMemFS()
		l := openLog(t, fsys, recDir, cfg)
		acked := int64(0)
		steps := 5 + rng.IntN(40)
		for i := range steps {
			res, err := l.Append(simpleBatch(1+rng.IntN(3), int64(i), rng.IntN(300)), 1)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.FsyncOnAck {
				acked = res.LastOffset + 1
			}
		}
		crashed := fsys.Crash(vfs.CrashOptions{TearLastWrite: true, ZeroTail: seed%3 == 0, Rand: rng})
		l2 := openLog(t, crashed, recDir, cfg)
		if l2.LogEndOffset() < acked {
			t.Fatalf("seed %d: end %d after crash, %d acknowledged", seed, l2.LogEndOffset(), acked)
		}
		readAllBatches(t, l2)
		checkIndexes(t, l2)
		mustAppend(t, l2, simpleBatch(1, 1, 1), 2)
		l2.Close()
		l.Close()
	}
}

func TestWriteFaults(t *testing.T) {
	t.Run("failed write is undone", func(t *testing.T) {
		l, fsys := memLog(t, testConfig(nil))
		defer l.Close()
		mustAppend(t, l, simpleBatch(1, 1, 10), 0)
		fsys.InjectFault(vfs.Fault{Ops: vfs.OpWrite, Suffix: ".log", ShortWrite: true})
		if _, err := l.Append(simpleBatch(2, 1, 10), 0); err == nil {
			t.Fatal("append with a failing write succeeded")
		}
		if l.LogEndOffset() != 1 {
			t.Fatalf("end %d after failed append", l.LogEndOffset())
		}
		res := mustAppend(t, l, simpleBatch(2, 1, 10), 0)
		if res.BaseOffset != 1 {
			t.Fatalf("next append at %d", res.BaseOffset)
		}
		readAllBatches(t, l)
	})
	t.Run("failed fsync fails the log", func(t *testing.T) {
		cfg := testConfig(nil)
		cfg.FsyncOnAck = true
		l, fsys := memLog(t, cfg)
		defer l.Close()
		mustAppend(t, l, simpleBatch(1, 1, 10), 0)
		fsys.InjectFault(vfs.Fault{Ops: vfs.OpSync, Suffix: ".log"})
		if _, err := l.Append(simpleBatch(1, 1, 10), 0); !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("append with failing fsync: %v", err)
		}
		if _, err := l.Append(simpleBatch(1, 1, 10), 0); err == nil {
			t.Fatal("log accepted writes after a failed fsync")
		}
		if _, err := l.Read(0, 100, l.LogEndOffset()); err != nil {
			t.Fatalf("reads fail after fsync failure: %v", err)
		}
	})
}
