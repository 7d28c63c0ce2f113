//go:build !linux

package log

import (
	"io"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// sendFile is not used outside Linux: WriteTo falls back to pread copies.
func sendFile(w io.Writer, f vfs.File, pos, n int64) (int64, bool, error) {
	return 0, false, nil
}
