package log

import (
	"path/filepath"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestEpochAssign(t *testing.T) {
	type op struct {
		epoch int32
		start int64
	}
	tests := []struct {
		name string
		ops  []op
		want []epochEntry
	}{
		{"one", []op{{1, 0}}, []epochEntry{{1, 0}}},
		{"increasing", []op{{1, 0}, {3, 10}, {4, 12}}, []epochEntry{{1, 0}, {3, 10}, {4, 12}}},
		{"same epoch later offset ignored", []op{{1, 0}, {1, 5}}, []epochEntry{{1, 0}}},
		{"same epoch earlier offset moves it", []op{{1, 0}, {2, 5}, {2, 3}}, []epochEntry{{1, 0}, {2, 3}}},
		{"older epoch truncates newer", []op{{1, 0}, {3, 10}, {4, 12}, {2, 11}}, []epochEntry{{1, 0}, {3, 10}, {2, 11}}[:0]},
		{"lower start drops later entries", []op{{1, 0}, {3, 10}, {5, 8}}, []epochEntry{{1, 0}, {5, 8}}},
	}
	// "older epoch truncates newer": epochs >= 2 or starts >= 11 go, then (2, 11) is added.
	tests[4].want = []epochEntry{{1, 0}, {2, 11}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := vfs.NewMemFS()
			l := openLog(t, fsys, "/e", testConfig(nil))
			for _, o := range tc.ops {
				if err := l.AssignEpochStartOffset(o.epoch, o.start); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.epochs.snapshot(); !equalEpochs(got, tc.want) {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
			// Persisted in Kafka's format.
			b, err := readSmallFile(fsys, filepath.Join("/e", epochCheckpointFile))
			if err != nil {
				t.Fatal(err)
			}
			var c epochCache
			if err := c.load(fsys, "/e"); err != nil || !equalEpochs(c.entries, tc.want) {
				t.Fatalf("checkpoint %q reloads as %v, %v", b, c.entries, err)
			}
			l.Close()
		})
	}
}

func TestEpochCheckpointFormat(t *testing.T) {
	fsys := vfs.NewMemFS()
	l := openLog(t, fsys, "/e", testConfig(nil))
	defer l.Close()
	for _, e := range []epochEntry{{0, 0}, {2, 17}, {5, 120}} {
		if err := l.AssignEpochStartOffset(e.epoch, e.startOffset); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := readSmallFile(fsys, "/e/"+epochCheckpointFile)
	if want := "0\n3\n0 0\n2 17\n5 120\n"; string(b) != want {
		t.Fatalf("checkpoint = %q, want %q", b, want)
	}
}

func TestEndOffsetForEpoch(t *testing.T) {
	l, _ := memLog(t, testConfig(nil))
	defer l.Close()
	for i := range 30 {
		epoch := int32(2)
		switch {
		case i >= 20:
			epoch = 7
		case i >= 10:
			epoch = 4
		}
		mustAppend(t, l, simpleBatch(1, int64(i), 1), epoch)
	}
	// epochs: 2 from 0, 4 from 10, 7 from 20; LEO 30.
	tests := []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{-1, -1, -1},
		{0, 0, 0}, // older than all known: its end is the first known start
		{2, 2, 10},
		{3, 2, 10},
		{4, 4, 20},
		{6, 4, 20},
		{7, 7, 30},
		{8, -1, -1},
	}
	for _, tc := range tests {
		if e, end := l.EndOffsetForEpoch(tc.epoch); e != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = %d, %d; want %d, %d", tc.epoch, e, end, tc.wantEpoch, tc.wantEnd)
		}
	}
	if e, ok := l.LatestEpoch(); e != 7 || !ok {
		t.Errorf("LatestEpoch = %d %v", e, ok)
	}
	// Appending with an older epoch does not add an entry.
	mustAppend(t, l, simpleBatch(1, 1, 1), 5)
	if e, _ := l.LatestEpoch(); e != 7 {
		t.Errorf("older epoch recorded: %d", e)
	}
}

func TestGarbageEpochCheckpointIsRebuilt(t *testing.T) {
	fsys := vfs.NewMemFS()
	l := openLog(t, fsys, "/e", testConfig(nil))
	for i := range 6 {
		mustAppend(t, l, simpleBatch(1, int64(i), 1), int32(i/2))
	}
	l.Close()
	for _, garbage := range []string{"", "x", "0\n5\n1 2\n", "0\n2\n3 4\n2 9\n", "1\n0\n"} {
		if err := writeFileAtomic(fsys, "/e", epochCheckpointFile, []byte(garbage)); err != nil {
			t.Fatal(err)
		}
		l := openLog(t, fsys, "/e", testConfig(nil))
		if got, want := l.epochs.snapshot(), []epochEntry{{0, 0}, {1, 2}, {2, 4}}; !equalEpochs(got, want) {
			t.Fatalf("garbage %q: rebuilt %v, want %v", garbage, got, want)
		}
		l.Close()
	}
}
