package partition

import (
	"fmt"
	"io"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// maxSnapshotBytes bounds what readFile will load.
const maxSnapshotBytes = 64 << 20

// readFile reads a small file through the FS, refusing ones larger than limit.
func readFile(fsys vfs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes is larger than %d", name, size, limit)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// writeFileAtomic writes data to name via a temporary file and a rename, so
// a crash leaves either the old or the new file when sync is set (the
// temporary file is fsynced before the rename). Without sync a crash may
// also leave an empty or partial file: only for hints that are checked when
// read back.
func writeFileAtomic(fsys vfs.FS, name string, data []byte, sync bool) error {
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}
