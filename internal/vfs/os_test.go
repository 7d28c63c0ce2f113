package vfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestOSFileExposesOSFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a")
	f, err := OS{}.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	of, ok := f.(OSFile)
	if !ok {
		t.Fatalf("%T does not implement OSFile", f)
	}
	if of.OSFile().Name() != name {
		t.Fatalf("OSFile().Name() = %q", of.OSFile().Name())
	}
	// An ErrorFS over OS keeps the OSFile so that sendfile stays possible.
	ef, err := NewErrorFS(OS{}).Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if _, ok := ef.(OSFile); !ok {
		t.Fatalf("ErrorFS file %T does not implement OSFile", ef)
	}
	// Over MemFS it must not pretend to.
	m := NewMemFS()
	mustClose(t, mustCreate(t, m, "x"))
	mf, err := NewErrorFS(m).Open("x")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mf.(OSFile); ok {
		t.Fatalf("ErrorFS over MemFS file %T implements OSFile", mf)
	}
}

// TestOSOpenReadWriteIsNotAppendOnly guards against O_APPEND: with it, Linux
// pwrite ignores the offset and WriteAt would append instead of overwrite.
func TestOSOpenReadWriteIsNotAppendOnly(t *testing.T) {
	name := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(name, []byte("0000"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OS{}.OpenReadWrite(name)
	if err != nil {
		t.Fatal(err)
	}
	if fl := f.(OSFile).OSFile(); fl == nil {
		t.Fatal("nil *os.File")
	}
	if _, err := f.WriteAt([]byte("1"), 1); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "2")
	mustClose(t, f)
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "01002" {
		t.Fatalf("file = %q, want %q", got, "01002")
	}
}

func TestOSSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := (OS{}).SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(existing) = %v", err)
	}
	if err := (OS{}).SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SyncDir(missing) = %v, want fs.ErrNotExist", err)
	}
}
