package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
)

// fsUnderTest builds each FS implementation with a fresh directory to work in.
var fsUnderTest = []fsImpl{
	{"OS", func(t *testing.T) (FS, string) { return OS{}, t.TempDir() }},
	{"MemFS", func(t *testing.T) (FS, string) {
		m := NewMemFS()
		if err := m.MkdirAll("/data", 0o755); err != nil {
			t.Fatal(err)
		}
		return m, "/data"
	}},
	{"ErrorFS(OS)", func(t *testing.T) (FS, string) { return NewErrorFS(OS{}), t.TempDir() }},
	{"ErrorFS(MemFS)", func(t *testing.T) (FS, string) { return NewErrorFS(NewMemFS()), "/" }},
}

// fsImpl names a way to build an FS and a directory in it to use.
type fsImpl struct {
	name string
	make func(t *testing.T) (FS, string)
}

// TestConformance runs the same scenarios against every FS, so that MemFS
// behaves like the real filesystem where the interface says anything.
func TestConformance(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, fsys FS, dir string)
	}{
		{"write appends and reads back", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a.log"))
			mustWrite(t, f, "hello ")
			mustWrite(t, f, "world")
			expectContents(t, f, "hello world")
			expectSize(t, f, 11)
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			mustClose(t, f)
		}},
		{"WriteAt overwrites and does not move Write", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			mustWrite(t, f, "abcdef")
			if _, err := f.WriteAt([]byte("XY"), 1); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "gh")
			expectContents(t, f, "aXYdefgh")
			mustClose(t, f)
		}},
		{"WriteAt past the end grows with zeros", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			if _, err := f.WriteAt([]byte("z"), 3); err != nil {
				t.Fatal(err)
			}
			expectContents(t, f, "\x00\x00\x00z")
			mustClose(t, f)
		}},
		{"OpenReadWrite writes at the end and WriteAt at its offset", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "a")
			f := mustCreate(t, fsys, name)
			mustWrite(t, f, "0123")
			mustClose(t, f)
			f, err := fsys.OpenReadWrite(name)
			if err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "45")
			if _, err := f.WriteAt([]byte("A"), 0); err != nil {
				t.Fatal(err)
			}
			expectContents(t, f, "A12345")
			mustClose(t, f)
		}},
		{"Truncate shrinks and the next Write lands at the new size", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			mustWrite(t, f, "0123456789")
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "xy")
			expectContents(t, f, "0123xy")
			if err := f.Truncate(8); err != nil {
				t.Fatal(err)
			}
			expectContents(t, f, "0123xy\x00\x00")
			mustClose(t, f)
		}},
		{"ReadAt at and past the end returns io.EOF", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			mustWrite(t, f, "abc")
			buf := make([]byte, 4)
			n, err := f.ReadAt(buf, 1)
			if n != 2 || err != io.EOF {
				t.Fatalf("ReadAt short = %d, %v; want 2, io.EOF", n, err)
			}
			if n, err := f.ReadAt(buf, 3); n != 0 || err != io.EOF {
				t.Fatalf("ReadAt at end = %d, %v; want 0, io.EOF", n, err)
			}
			mustClose(t, f)
		}},
		{"Open is read-only", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "a")
			mustClose(t, mustCreate(t, fsys, name))
			f, err := fsys.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("x")); err == nil {
				t.Fatal("Write on a read-only file succeeded")
			}
			if f.Name() != name {
				t.Fatalf("Name() = %q, want %q", f.Name(), name)
			}
			mustClose(t, f)
		}},
		{"Create truncates an existing file", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "a")
			f := mustCreate(t, fsys, name)
			mustWrite(t, f, "old")
			mustClose(t, f)
			f = mustCreate(t, fsys, name)
			expectSize(t, f, 0)
			mustClose(t, f)
		}},
		{"missing files report fs.ErrNotExist", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "missing")
			if _, err := fsys.Open(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open: %v", err)
			}
			if _, err := fsys.OpenReadWrite(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("OpenReadWrite: %v", err)
			}
			if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat: %v", err)
			}
			if err := fsys.Remove(name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Remove: %v", err)
			}
			if err := fsys.Rename(name, name+"2"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Rename: %v", err)
			}
			if _, err := fsys.Create(filepath.Join(dir, "nodir", "x")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Create in a missing dir: %v", err)
			}
			if err := fsys.RemoveAll(name); err != nil {
				t.Errorf("RemoveAll of a missing name: %v", err)
			}
		}},
		{"List is sorted, Stat sizes, Rename replaces, Remove deletes", func(t *testing.T, fsys FS, dir string) {
			for _, n := range []string{"c", "a", "b"} {
				f := mustCreate(t, fsys, filepath.Join(dir, n))
				mustWrite(t, f, n+n)
				mustClose(t, f)
			}
			if err := fsys.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
				t.Fatal(err)
			}
			expectList(t, fsys, dir, "a", "b", "c", "sub")
			fi, err := fsys.Stat(filepath.Join(dir, "b"))
			if err != nil || fi.Size() != 2 || fi.IsDir() || fi.Name() != "b" {
				t.Fatalf("Stat(b) = %v, %v", fi, err)
			}
			if fi, err := fsys.Stat(filepath.Join(dir, "sub")); err != nil || !fi.IsDir() {
				t.Fatalf("Stat(sub) = %v, %v", fi, err)
			}
			if err := fsys.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "c")); err != nil {
				t.Fatal(err)
			}
			expectList(t, fsys, dir, "b", "c", "sub")
			f, err := fsys.Open(filepath.Join(dir, "c"))
			if err != nil {
				t.Fatal(err)
			}
			expectContents(t, f, "aa")
			mustClose(t, f)
			if err := fsys.Remove(filepath.Join(dir, "sub")); err == nil {
				t.Fatal("Remove of a non-empty directory succeeded")
			}
			if err := fsys.Remove(filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			if err := fsys.RemoveAll(filepath.Join(dir, "sub")); err != nil {
				t.Fatal(err)
			}
			expectList(t, fsys, dir, "c")
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory renames", func(t *testing.T, fsys FS, dir string) {
			p := func(n string) string { return filepath.Join(dir, n) }
			for _, d := range []string{"d1/inner", "empty", "full/x"} {
				if err := fsys.MkdirAll(p(d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			mustClose(t, mustCreate(t, fsys, p("d1/inner/f")))
			mustClose(t, mustCreate(t, fsys, p("file")))
			if err := fsys.Rename(p("d1"), p("d1/inner/moved")); err == nil {
				t.Error("renaming a directory into itself succeeded")
			}
			if err := fsys.Rename(p("file"), p("full")); err == nil {
				t.Error("renaming a file over a non-empty directory succeeded")
			}
			if err := fsys.Rename(p("d1"), p("file")); err == nil {
				t.Error("renaming a directory over a file succeeded")
			}
			if err := fsys.Rename(p("d1"), p("empty")); !errors.Is(err, fs.ErrExist) {
				t.Errorf("renaming a directory over an empty one = %v, want fs.ErrExist (as os.Rename)", err)
			}
			if err := fsys.Rename(p("d1"), p("moved")); err != nil {
				t.Fatalf("renaming a directory: %v", err)
			}
			if err := fsys.Rename(p("file"), p("file")); err != nil {
				t.Fatalf("renaming a file to itself: %v", err)
			}
			expectList(t, fsys, p("moved/inner"), "f")
			expectList(t, fsys, dir, "empty", "file", "full", "moved")
			if err := fsys.MkdirAll(p("file/sub"), 0o755); err == nil {
				t.Error("MkdirAll through a file succeeded")
			}
			if _, err := fsys.List(p("file")); err == nil {
				t.Error("List of a file succeeded")
			}
			if err := fsys.SyncDir(p("nodir")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("SyncDir(missing) = %v", err)
			}
		}},
		{"a closed file refuses every operation", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			mustWrite(t, f, "x")
			mustClose(t, f)
			if _, err := f.Write([]byte("y")); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Write: %v", err)
			}
			if _, err := f.WriteAt([]byte("y"), 0); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("WriteAt: %v", err)
			}
			if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("ReadAt: %v", err)
			}
			if err := f.Sync(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Sync: %v", err)
			}
			if err := f.Truncate(0); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Truncate: %v", err)
			}
			if _, err := f.Size(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Size: %v", err)
			}
			if err := f.Close(); err == nil {
				t.Error("second Close succeeded")
			}
		}},
		{"negative offsets are refused", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			if _, err := f.WriteAt([]byte("y"), -1); err == nil {
				t.Error("WriteAt(-1) succeeded")
			}
			if _, err := f.ReadAt(make([]byte, 1), -1); err == nil {
				t.Error("ReadAt(-1) succeeded")
			}
			if err := f.Truncate(-1); err == nil {
				t.Error("Truncate(-1) succeeded")
			}
			mustClose(t, f)
		}},
		{"an open file survives rename and remove", func(t *testing.T, fsys FS, dir string) {
			f := mustCreate(t, fsys, filepath.Join(dir, "a"))
			mustWrite(t, f, "x")
			if err := fsys.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "y")
			if err := fsys.Remove(filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, f, "z")
			expectContents(t, f, "xyz")
			mustClose(t, f)
			expectList(t, fsys, dir)
		}},
	}
	for _, impl := range fsUnderTest {
		for _, sc := range scenarios {
			t.Run(impl.name+"/"+sc.name, func(t *testing.T) {
				fsys, dir := impl.make(t)
				sc.run(t, fsys, dir)
			})
		}
	}
}

func mustCreate(t *testing.T, fsys FS, name string) File {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustWrite(t *testing.T, f File, s string) {
	t.Helper()
	if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

func mustClose(t *testing.T, f File) {
	t.Helper()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func expectSize(t *testing.T, f File, want int64) {
	t.Helper()
	if got, err := f.Size(); err != nil || got != want {
		t.Fatalf("Size() = %d, %v; want %d", got, err, want)
	}
}

// readAll reads a whole file through ReadAt.
func readAll(t *testing.T, f File) []byte {
	t.Helper()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(whole file) = %d, %v", n, err)
	}
	return buf
}

func expectContents(t *testing.T, f File, want string) {
	t.Helper()
	if got := readAll(t, f); !bytes.Equal(got, []byte(want)) {
		t.Fatalf("contents = %q, want %q", got, want)
	}
}

func expectList(t *testing.T, fsys FS, dir string, want ...string) {
	t.Helper()
	got, err := fsys.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List(%s) = %q, want %q", dir, got, want)
	}
}
