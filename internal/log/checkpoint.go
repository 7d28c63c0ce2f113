package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Names of the small files kept next to the segments.
const (
	epochCheckpointFile    = "leader-epoch-checkpoint"
	logStartCheckpointFile = "log-start-offset-checkpoint"
	cleanMarkerFile        = ".clean-shutdown"

	// maxCheckpointBytes bounds what is read from a checkpoint file.
	maxCheckpointBytes = 4 << 20
)

// writeFileAtomic replaces dir/name with data durably: write a temporary
// file, fsync it, rename it over the old one, fsync the directory.
func writeFileAtomic(fsys vfs.FS, dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	f, err := fsys.Create(tmp)
	if err != nil {
		return fmt.Errorf("log: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("log: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("log: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("log: close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("log: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("log: sync dir %s: %w", dir, err)
	}
	return nil
}

// readSmallFile reads a whole file of at most maxCheckpointBytes. A missing
// file returns (nil, nil).
func readSmallFile(fsys vfs.FS, path string) ([]byte, error) {
	f, err := fsys.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("log: open %s: %w", path, err)
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("log: size of %s: %w", path, err)
	}
	if n > maxCheckpointBytes {
		return nil, fmt.Errorf("log: %s is %d bytes, more than %d", path, n, maxCheckpointBytes)
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("log: read %s: %w", path, err)
	}
	return b, nil
}

// checkpointLines parses Kafka's checkpoint text format: a version line
// "0", a count line, then count lines. It returns the lines' fields.
func checkpointLines(b []byte, fieldsPerLine int) ([][]string, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 {
		return nil, errors.New("missing version or count line")
	}
	if strings.TrimSpace(lines[0]) != "0" {
		return nil, fmt.Errorf("unknown version %q", lines[0])
	}
	count, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || count < 0 || count != len(lines)-2 {
		return nil, fmt.Errorf("count line %q does not match %d entries", lines[1], len(lines)-2)
	}
	out := make([][]string, 0, count)
	for i, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) != fieldsPerLine {
			return nil, fmt.Errorf("line %d: %q: want %d fields", i+3, line, fieldsPerLine)
		}
		out = append(out, f)
	}
	return out, nil
}

// errBadCheckpoint marks a checkpoint file whose contents do not parse
// (as opposed to one that could not be read).
var errBadCheckpoint = errors.New("bad checkpoint")

// readLogStartCheckpoint returns the persisted log start offset, or -1
// when there is none. Contents that do not parse give an error wrapping
// errBadCheckpoint; other errors mean the file could not be read.
func readLogStartCheckpoint(fsys vfs.FS, dir string) (int64, error) {
	b, err := readSmallFile(fsys, filepath.Join(dir, logStartCheckpointFile))
	if err != nil || b == nil {
		return -1, err
	}
	lines, err := checkpointLines(b, 1)
	if err != nil || len(lines) != 1 {
		return -1, fmt.Errorf("log: %s: %w: log start: %v", dir, errBadCheckpoint, err)
	}
	v, err := strconv.ParseInt(lines[0][0], 10, 64)
	if err != nil || v < 0 {
		return -1, fmt.Errorf("log: %s: %w: log start offset %q", dir, errBadCheckpoint, lines[0][0])
	}
	return v, nil
}

// writeLogStartCheckpoint persists the log start offset.
func writeLogStartCheckpoint(fsys vfs.FS, dir string, offset int64) error {
	return writeFileAtomic(fsys, dir, logStartCheckpointFile, fmt.Appendf(nil, "0\n1\n%d\n", offset))
}

// cleanMarker is the content of the clean-shutdown marker: the state of the
// newest segment at Close, so that Open can trust it without a scan.
type cleanMarker struct {
	activeBase  int64
	logSize     int64
	indexSize   int64
	timeSize    int64
	endOffset   int64
	maxTs       int64
	maxTsOffset int64
	rollTs      int64
}

var cleanMagic = []byte("SAMSACLS")

const cleanMarkerSize = 8 + 2 + 8*8 + 4

func (m cleanMarker) encode() []byte {
	b := make([]byte, 0, cleanMarkerSize)
	b = append(b, cleanMagic...)
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, v := range []int64{m.activeBase, m.logSize, m.indexSize, m.timeSize, m.endOffset, m.maxTs, m.maxTsOffset, m.rollTs} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCleanMarker(b []byte) (cleanMarker, bool) {
	if len(b) != cleanMarkerSize || !bytes.Equal(b[:8], cleanMagic) || binary.BigEndian.Uint16(b[8:]) != 1 {
		return cleanMarker{}, false
	}
	if crc32.Checksum(b[:cleanMarkerSize-4], castagnoli) != binary.BigEndian.Uint32(b[cleanMarkerSize-4:]) {
		return cleanMarker{}, false
	}
	var v [8]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[10+8*i:]))
	}
	return cleanMarker{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}, true
}

// writeCleanMarkerLocked writes the marker for the current state. Caller
// holds appendMu, after fsyncing the active segment.
func (l *Log) writeCleanMarkerLocked() error {
	s := l.active.Load()
	s.tsMu.Lock()
	maxTs, maxTsOff := s.maxTs, s.maxTsOffset
	s.tsMu.Unlock()
	m := cleanMarker{
		activeBase:  s.base,
		logSize:     s.size.Load(),
		indexSize:   s.ix.entries.Load() * offsetIndexEntrySize,
		timeSize:    s.tix.entries.Load() * timeIndexEntrySize,
		endOffset:   l.nextOffset.Load(),
		maxTs:       maxTs,
		maxTsOffset: maxTsOff,
		rollTs:      s.rollTs,
	}
	if err := writeFileAtomic(l.fs, l.dir, cleanMarkerFile, m.encode()); err != nil {
		return err
	}
	l.markerPresent = true
	return nil
}
