package vfs

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

// tree returns every file and directory of fsys below root: files map to
// their contents, directories to "<dir>".
func tree(t *testing.T, fsys FS, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(dir string)
	walk = func(dir string) {
		names, err := fsys.List(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := path.Join(dir, n)
			fi, err := fsys.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() {
				out[p] = "<dir>"
				walk(p)
				continue
			}
			f, err := fsys.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = string(readAll(t, f))
			mustClose(t, f)
		}
	}
	walk(root)
	return out
}

// writeFile creates name with contents s, optionally syncing it.
func writeFile(t *testing.T, fsys FS, name, s string, sync bool) File {
	t.Helper()
	f := mustCreate(t, fsys, name)
	mustWrite(t, f, s)
	if sync {
		mustSync(t, f)
	}
	return f
}

func mustSync(t *testing.T, f File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func mustSyncDir(t *testing.T, fsys FS, dir string) {
	t.Helper()
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

func TestCrash(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, m *MemFS)
		want  map[string]string
	}{
		{"nothing synced leaves an empty root", func(t *testing.T, m *MemFS) {
			if err := m.MkdirAll("/d", 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, m, "/d/a", "x", true)
		}, map[string]string{}},
		{"synced data without a synced entry is lost", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "data", true)
		}, map[string]string{}},
		{"synced entry without synced data is empty", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "data", false)
			mustSyncDir(t, m, "/")
		}, map[string]string{"/a": ""}},
		{"unsynced appends are lost, synced bytes kept", func(t *testing.T, m *MemFS) {
			f := writeFile(t, m, "/a", "synced", true)
			mustSyncDir(t, m, "/")
			mustWrite(t, f, "-unsynced")
		}, map[string]string{"/a": "synced"}},
		{"unsynced overwrite and truncate revert", func(t *testing.T, m *MemFS) {
			f := writeFile(t, m, "/a", "0123456789", true)
			mustSyncDir(t, m, "/")
			if _, err := f.WriteAt([]byte("XX"), 2); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(5); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"/a": "0123456789"}},
		{"synced truncate then regrow", func(t *testing.T, m *MemFS) {
			f := writeFile(t, m, "/a", "0123456789", true)
			mustSyncDir(t, m, "/")
			if err := f.Truncate(3); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "ab")
			mustSync(t, f)
			mustWrite(t, f, "lost")
		}, map[string]string{"/a": "012ab"}},
		{"Create over a synced file reverts without sync", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "old", true)
			mustSyncDir(t, m, "/")
			writeFile(t, m, "/a", "new", false)
		}, map[string]string{"/a": "old"}},
		{"unsynced rename reverts to the old name with the synced bytes", func(t *testing.T, m *MemFS) {
			f := writeFile(t, m, "/a.tmp", "v1", true)
			mustSyncDir(t, m, "/")
			if err := m.Rename("/a.tmp", "/a"); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "+v2")
			mustSync(t, f) // data synced through the new name
		}, map[string]string{"/a.tmp": "v1+v2"}},
		{"synced rename replaces the target", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "old", true)
			writeFile(t, m, "/a.tmp", "new", true)
			mustSyncDir(t, m, "/")
			if err := m.Rename("/a.tmp", "/a"); err != nil {
				t.Fatal(err)
			}
			mustSyncDir(t, m, "/")
		}, map[string]string{"/a": "new"}},
		{"unsynced remove comes back", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "keep", true)
			mustSyncDir(t, m, "/")
			if err := m.Remove("/a"); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"/a": "keep"}},
		{"synced remove stays removed", func(t *testing.T, m *MemFS) {
			writeFile(t, m, "/a", "gone", true)
			writeFile(t, m, "/b", "kept", true)
			mustSyncDir(t, m, "/")
			if err := m.Remove("/a"); err != nil {
				t.Fatal(err)
			}
			mustSyncDir(t, m, "/")
		}, map[string]string{"/b": "kept"}},
		{"directories need their parent synced", func(t *testing.T, m *MemFS) {
			if err := m.MkdirAll("/p/q", 0o755); err != nil {
				t.Fatal(err)
			}
			mustSyncDir(t, m, "/")
			mustSyncDir(t, m, "/p")
			writeFile(t, m, "/p/q/seg.log", "abc", true)
			writeFile(t, m, "/p/other", "x", true)
			mustSyncDir(t, m, "/p/q")
		}, map[string]string{"/p": "<dir>", "/p/q": "<dir>", "/p/q/seg.log": "abc"}},
		{"unsynced RemoveAll comes back with its tree", func(t *testing.T, m *MemFS) {
			if err := m.MkdirAll("/p", 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, m, "/p/a", "A", true)
			mustSyncDir(t, m, "/p")
			mustSyncDir(t, m, "/")
			if err := m.RemoveAll("/p"); err != nil {
				t.Fatal(err)
			}
			writeFile(t, m, "/unsynced", "u", true)
		}, map[string]string{"/p": "<dir>", "/p/a": "A"}},
		{"rename across directories synced only at the target keeps both names", func(t *testing.T, m *MemFS) {
			for _, d := range []string{"/x", "/y"} {
				if err := m.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			writeFile(t, m, "/x/f", "F", true)
			mustSyncDir(t, m, "/x")
			mustSyncDir(t, m, "/")
			if err := m.Rename("/x/f", "/y/f"); err != nil {
				t.Fatal(err)
			}
			mustSyncDir(t, m, "/y")
		}, map[string]string{"/x": "<dir>", "/x/f": "F", "/y": "<dir>", "/y/f": "F"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemFS()
			tc.setup(t, m)
			before := tree(t, m, "/")
			c := m.Crash(CrashOptions{})
			if got := tree(t, c, "/"); !maps.Equal(got, tc.want) {
				t.Fatalf("after crash:\n got  %q\n want %q", got, tc.want)
			}
			// The original is untouched and the clone is fully synced.
			if got := tree(t, m, "/"); !maps.Equal(got, before) {
				t.Fatalf("Crash changed the original:\n got  %q\n want %q", got, before)
			}
			if got := tree(t, c.Crash(CrashOptions{}), "/"); !maps.Equal(got, tc.want) {
				t.Fatalf("a second crash changed the clone:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestCrashCloneIsIndependent(t *testing.T) {
	m := NewMemFS()
	f := writeFile(t, m, "/a", "abc", true)
	mustSyncDir(t, m, "/")
	c := m.Crash(CrashOptions{})
	g, err := c.OpenReadWrite("/a")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, g, "clone")
	mustWrite(t, f, "orig")
	expectContents(t, f, "abcorig")
	expectContents(t, g, "abcclone")
}

// TestCrashTearLastWrite checks that a torn crash keeps the synced bytes and
// a prefix of the unsynced appends, that every length is reachable, and that
// the same seed gives the same result.
func TestCrashTearLastWrite(t *testing.T) {
	const synced, unsynced = "synced|", "0123456789"
	m := NewMemFS()
	f := writeFile(t, m, "/a.log", synced, true)
	mustSyncDir(t, m, "/")
	mustWrite(t, f, unsynced)

	seen := map[int]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		got := tree(t, m.Crash(CrashOptions{TearLastWrite: true, Rand: rng}), "/")["/a.log"]
		full := synced + unsynced
		if !strings.HasPrefix(full, got) || len(got) < len(synced) {
			t.Fatalf("torn file %q is not synced bytes plus a prefix of %q", got, unsynced)
		}
		seen[len(got)-len(synced)] = true
	}
	for k := 0; k <= len(unsynced); k++ {
		if !seen[k] {
			t.Errorf("a torn write never kept %d unsynced bytes in 400 crashes", k)
		}
	}

	a := tree(t, m.Crash(CrashOptions{TearLastWrite: true, Rand: rand.New(rand.NewPCG(7, 7))}), "/")
	b := tree(t, m.Crash(CrashOptions{TearLastWrite: true, Rand: rand.New(rand.NewPCG(7, 7))}), "/")
	if !maps.Equal(a, b) {
		t.Fatalf("same seed, different crashes: %q vs %q", a, b)
	}
	if got := tree(t, m.Crash(CrashOptions{}), "/")["/a.log"]; got != synced {
		t.Fatalf("untorn crash kept %q, want %q", got, synced)
	}
}

// TestCrashTearOverwrite checks the torn outcomes of a file whose synced
// bytes were overwritten and truncated: either the synced contents or a
// prefix of the current contents at least as long as the unchanged part.
func TestCrashTearOverwrite(t *testing.T) {
	m := NewMemFS()
	f := writeFile(t, m, "/a", "0123456789", true)
	mustSyncDir(t, m, "/")
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "xyz")
	current := "0123xyz"
	sawSynced, sawPrefix := false, false
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		got := tree(t, m.Crash(CrashOptions{TearLastWrite: true, Rand: rng}), "/")["/a"]
		switch {
		case got == "0123456789":
			sawSynced = true
		case strings.HasPrefix(current, got) && len(got) >= 4:
			sawPrefix = true
		default:
			t.Fatalf("impossible torn contents %q", got)
		}
	}
	if !sawSynced || !sawPrefix {
		t.Fatalf("outcomes seen: synced=%v prefix=%v", sawSynced, sawPrefix)
	}
}

func TestCrashZeroTail(t *testing.T) {
	m := NewMemFS()
	f := writeFile(t, m, "/a", "S", true)
	mustSyncDir(t, m, "/")
	mustWrite(t, f, "abcdefgh")
	sawZeros := false
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		got := []byte(tree(t, m.Crash(CrashOptions{TearLastWrite: true, ZeroTail: true, Rand: rng}), "/")["/a"])
		if len(got) < 1 || got[0] != 'S' {
			t.Fatalf("synced byte lost: %q", got)
		}
		// got = "S" + a prefix of the data + zeros.
		data := bytes.TrimRight(got[1:], "\x00")
		if !strings.HasPrefix("abcdefgh", string(data)) {
			t.Fatalf("torn contents %q are not a prefix followed by zeros", got)
		}
		if len(data) < len(got)-1 {
			sawZeros = true
		}
	}
	if !sawZeros {
		t.Fatal("ZeroTail never produced a zero tail")
	}
}
