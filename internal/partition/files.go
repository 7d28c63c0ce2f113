package partition

import (
	"fmt"
	"io"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// maxSnapshotBytes bounds what readFile will load.
const maxSnapshotBytes = 64 << 20

// readFile reads a small file through the FS, refusing oversized ones.
func readFile(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > maxSnapshotBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than %d", name, size, maxSnapshotBytes)
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return buf, nil
}

// writeFileAtomic writes data to name via a synced temporary file and a
// rename, so a crash leaves either the old or the new file.
func writeFileAtomic(fsys vfs.FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}
