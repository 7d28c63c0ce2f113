package vfs

import (
	"errors"
	"io/fs"
	"testing"
)

func TestMemFSPaths(t *testing.T) {
	m := NewMemFS()
	if err := m.MkdirAll(`a/b`, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "/a/b/../b/./f", "x", false)
	for _, name := range []string{"a/b/f", "/a/b/f", "//a/b//f", "/a/../a/b/f"} {
		if fi, err := m.Stat(name); err != nil || fi.Size() != 1 {
			t.Errorf("Stat(%q) = %v, %v", name, fi, err)
		}
	}
	fi, err := m.Stat("/")
	if err != nil || !fi.IsDir() || fi.Mode()&fs.ModeDir == 0 || fi.Sys() != nil || fi.ModTime().IsZero() {
		t.Fatalf("Stat(/) = %v, %v", fi, err)
	}
	if fi, _ := m.Stat("/a/b/f"); fi.Mode() != 0o644 {
		t.Fatalf("file mode = %v", fi.Mode())
	}
}

func TestMemFSRefusals(t *testing.T) {
	m := NewMemFS()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	f := mustCreate(t, m, "/d/f")
	cases := []struct {
		name string
		err  error
	}{
		{"Open of a directory", func() error { _, err := m.Open("/d"); return err }()},
		{"Create over a directory", func() error { _, err := m.Create("/d"); return err }()},
		{"Create of the root", func() error { _, err := m.Create("/"); return err }()},
		{"RemoveAll of the root", m.RemoveAll("/")},
		{"Remove of the root", m.Remove("/")},
		{"SyncDir of a file", m.SyncDir("/d/f")},
		{"Create below a file", func() error { _, err := m.Create("/d/f/g"); return err }()},
		{"WriteAt beyond the size limit", func() error { _, err := f.WriteAt([]byte("x"), maxMemFileSize); return err }()},
		{"Truncate beyond the size limit", f.Truncate(maxMemFileSize + 1)},
		{"Truncate of a read-only file", func() error {
			r, err := m.Open("/d/f")
			if err != nil {
				return nil
			}
			defer r.Close()
			return r.Truncate(0)
		}()},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s succeeded", tc.name)
		}
	}
	if size, _ := f.Size(); size != 0 {
		t.Fatalf("a refused operation changed the file: size %d", size)
	}
	expectList(t, m, "/", "d")
}

func TestErrorFSShortWriteAt(t *testing.T) {
	m := NewMemFS()
	e := NewErrorFS(m)
	f := mustCreate(t, e, "/a")
	mustWrite(t, f, "........")
	e.InjectFault(Fault{Ops: OpWrite, ShortWrite: true, ShortWriteLen: 2})
	if n, err := f.WriteAt([]byte("abcd"), 2); n != 2 || !errors.Is(err, ErrInjected) {
		t.Fatalf("WriteAt = %d, %v", n, err)
	}
	expectContents(t, f, "..ab....")
	e.InjectFault(Fault{Ops: OpWrite, Sticky: true})
	e.ClearFaults()
	if _, err := f.WriteAt([]byte("Z"), 0); err != nil {
		t.Fatalf("WriteAt after ClearFaults = %v", err)
	}
	if _, err := e.OpenReadWrite("/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadWrite(missing) = %v", err)
	}
}

// BenchmarkMemFSAppendSync measures a 1 KiB append followed by Sync, the
// pattern of a log with fsync-on-ack; Sync copies only the appended bytes.
func BenchmarkMemFSAppendSync(b *testing.B) {
	m := NewMemFS()
	f, err := m.Create("/seg.log")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1024)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
