package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// opsScript performs a fixed sequence of operations on fsys below dir and
// reports the outcome of each, e.g. "write a.log: ok" or
// "sync a.log: injected".
func opsScript(fsys FS, dir string) []string {
	var out []string
	note := func(what string, err error) {
		switch {
		case err == nil:
			out = append(out, what+": ok")
		case errors.Is(err, ErrInjected):
			out = append(out, what+": injected")
		default:
			out = append(out, what+": "+err.Error())
		}
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	f, err := fsys.Create(p("a.log"))
	note("create a.log", err)
	g, err2 := fsys.Create(p("a.index"))
	note("create a.index", err2)
	for i := 1; i <= 3; i++ {
		if f != nil {
			_, err := f.Write([]byte("log"))
			note(fmt.Sprintf("write a.log #%d", i), err)
		}
		if g != nil {
			_, err := g.Write([]byte("idx"))
			note(fmt.Sprintf("write a.index #%d", i), err)
		}
	}
	if f != nil {
		note("sync a.log", f.Sync())
		note("truncate a.log", f.Truncate(1))
		_, err := f.ReadAt(make([]byte, 1), 0)
		note("read a.log", err)
	}
	note("rename a.index", fsys.Rename(p("a.index"), p("b.index")))
	note("mkdir", fsys.MkdirAll(p("sub"), 0o755))
	note("syncdir", fsys.SyncDir(dir))
	note("remove b.index", fsys.Remove(p("b.index")))
	return out
}

// faultInjector is implemented by MemFS and ErrorFS.
type faultInjector interface{ InjectFault(Fault) *Injection }

// injectable are the filesystems under test that take faults.
var injectable = slices.DeleteFunc(slices.Clone(fsUnderTest), func(impl fsImpl) bool { return impl.name == "OS" })

func TestFaultCounting(t *testing.T) {
	all := []string{
		"create a.log", "create a.index",
		"write a.log #1", "write a.index #1", "write a.log #2", "write a.index #2", "write a.log #3", "write a.index #3",
		"sync a.log", "truncate a.log", "read a.log", "rename a.index", "mkdir", "syncdir", "remove b.index",
	}
	cases := []struct {
		name     string
		fault    Fault
		failed   []string // operations expected to fail
		cascades bool     // later operations fail as a consequence
	}{
		{"second write", Fault{Ops: OpWrite, N: 2}, []string{"write a.index #1"}, false},
		{"second .log write", Fault{Ops: OpWrite, Suffix: ".log", N: 2}, []string{"write a.log #2"}, false},
		{"N 0 is the next", Fault{Ops: OpWrite, Suffix: ".index"}, []string{"write a.index #1"}, false},
		{"sticky from the second .log write", Fault{Ops: OpWrite, Suffix: ".log", N: 2, Sticky: true},
			[]string{"write a.log #2", "write a.log #3"}, false},
		{"first sync", Fault{Ops: OpSync}, []string{"sync a.log"}, false},
		{"write or sync, 7th", Fault{Ops: OpWrite | OpSync, N: 7}, []string{"sync a.log"}, false},
		{"create", Fault{Ops: OpCreate, N: 2}, []string{"create a.index"}, true},
		{"rename matches the new name", Fault{Ops: OpRename, Suffix: "b.index"}, []string{"rename a.index"}, true},
		{"truncate", Fault{Ops: OpTruncate}, []string{"truncate a.log"}, false},
		{"read", Fault{Ops: OpRead}, []string{"read a.log"}, false},
		{"mkdir", Fault{Ops: OpMkdir}, []string{"mkdir"}, false},
		{"syncdir", Fault{Ops: OpSyncDir}, []string{"syncdir"}, false},
		{"remove", Fault{Ops: OpRemove}, []string{"remove b.index"}, false},
		{"beyond the last op", Fault{Ops: OpSync, N: 2}, nil, false},
		{"suffix matches nothing", Fault{Ops: OpAll, Suffix: ".timeindex", Sticky: true}, nil, false},
	}
	for _, impl := range injectable {
		for _, tc := range cases {
			t.Run(impl.name+"/"+tc.name, func(t *testing.T) {
				fsys, dir := impl.make(t)
				in := fsys.(faultInjector).InjectFault(tc.fault)
				got := opsScript(fsys, dir)
				var injected []string
				for _, g := range got {
					if op, ok := strings.CutSuffix(g, ": injected"); ok {
						injected = append(injected, op)
					} else if !tc.cascades && !strings.HasSuffix(g, ": ok") {
						t.Errorf("unexpected outcome %q", g)
					}
				}
				if !slices.Equal(injected, tc.failed) {
					t.Fatalf("injected failures %q, want %q (all outcomes %q)", injected, tc.failed, got)
				}
				if !tc.cascades && len(got) != len(all) {
					t.Fatalf("ran %d operations, want %d: %q", len(got), len(all), got)
				}
				if in.Failed() != len(tc.failed) {
					t.Fatalf("Failed() = %d, want %d", in.Failed(), len(tc.failed))
				}
			})
		}
	}
}

func TestFaultFailedOperationHasNoEffect(t *testing.T) {
	for _, impl := range injectable {
		t.Run(impl.name, func(t *testing.T) {
			fsys, dir := impl.make(t)
			inj := fsys.(faultInjector)
			p := func(n string) string { return filepath.Join(dir, n) }

			inj.InjectFault(Fault{Ops: OpCreate})
			if _, err := fsys.Create(p("x")); !errors.Is(err, ErrInjected) {
				t.Fatalf("Create = %v", err)
			}
			expectList(t, fsys, dir)

			f := mustCreate(t, fsys, p("a"))
			mustWrite(t, f, "abc")
			inj.InjectFault(Fault{Ops: OpWrite})
			if n, err := f.Write([]byte("def")); n != 0 || !errors.Is(err, ErrInjected) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			inj.InjectFault(Fault{Ops: OpTruncate})
			if err := f.Truncate(0); !errors.Is(err, ErrInjected) {
				t.Fatalf("Truncate = %v", err)
			}
			inj.InjectFault(Fault{Ops: OpRename})
			if err := fsys.Rename(p("a"), p("b")); !errors.Is(err, ErrInjected) {
				t.Fatalf("Rename = %v", err)
			}
			expectContents(t, f, "abc")
			expectList(t, fsys, dir, "a")

			// The error says what failed and can carry a custom cause.
			custom := errors.New("disk on fire")
			inj.InjectFault(Fault{Ops: OpSync, Err: custom})
			err := f.Sync()
			var pe *fs.PathError
			if !errors.Is(err, custom) || !errors.As(err, &pe) || pe.Op != "sync" || pe.Path != p("a") {
				t.Fatalf("Sync = %v", err)
			}
			// After the fault, operations work again.
			mustSync(t, f)
			mustClose(t, f)
		})
	}
}

func TestFaultShortWrite(t *testing.T) {
	cases := []struct {
		name  string
		fault Fault
		write string
		wantN int
	}{
		{"half by default", Fault{Ops: OpWrite, ShortWrite: true}, "abcdefgh", 4},
		{"explicit length", Fault{Ops: OpWrite, ShortWrite: true, ShortWriteLen: 3}, "abcdefgh", 3},
		{"length capped", Fault{Ops: OpWrite, ShortWrite: true, ShortWriteLen: 100}, "abc", 3},
		{"one byte keeps nothing", Fault{Ops: OpWrite, ShortWrite: true}, "a", 0},
		{"not short", Fault{Ops: OpWrite}, "abcdefgh", 0},
	}
	for _, impl := range injectable {
		for _, tc := range cases {
			t.Run(impl.name+"/"+tc.name, func(t *testing.T) {
				fsys, dir := impl.make(t)
				f := mustCreate(t, fsys, filepath.Join(dir, "a.log"))
				mustWrite(t, f, "<")
				fsys.(faultInjector).InjectFault(tc.fault)
				n, err := f.Write([]byte(tc.write))
				if n != tc.wantN || !errors.Is(err, ErrInjected) {
					t.Fatalf("Write = %d, %v; want %d, ErrInjected", n, err, tc.wantN)
				}
				expectContents(t, f, "<"+tc.write[:tc.wantN])
				mustWrite(t, f, ">") // the next write works and follows the short one
				expectContents(t, f, "<"+tc.write[:tc.wantN]+">")
				mustClose(t, f)
			})
		}
	}
}

func TestFaultRemoveAndClear(t *testing.T) {
	m := NewMemFS()
	f := mustCreate(t, m, "/a")
	in := m.InjectFault(Fault{Ops: OpWrite, Sticky: true})
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	in.Remove()
	mustWrite(t, f, "y")
	if in.Seen() != 1 || in.Failed() != 1 {
		t.Fatalf("Seen, Failed = %d, %d; want 1, 1", in.Seen(), in.Failed())
	}
	m.InjectFault(Fault{Ops: OpSync, Sticky: true})
	m.InjectFault(Fault{Ops: OpWrite, Sticky: true})
	m.ClearFaults()
	mustWrite(t, f, "z")
	mustSync(t, f)
	if (OpWrite|OpSync).String() != "write|sync" || Op(0).String() != "none" {
		t.Fatalf("Op.String: %q %q", (OpWrite | OpSync).String(), Op(0).String())
	}
}
