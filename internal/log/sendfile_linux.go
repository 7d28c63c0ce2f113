//go:build linux

package log

import (
	"io"
	"sync/atomic"
	"syscall"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// sendfileBytes counts bytes sent with sendfile(2), for tests.
var sendfileBytes atomic.Int64

// sendFile copies n bytes of f at pos to w with sendfile(2), passing the
// position explicitly so that concurrent readers of one file do not share
// a file offset. (The standard library's own path, net.TCPConn.ReadFrom,
// uses sendfile only for an *os.File or an *io.LimitedReader around one and
// sends from the file's current offset, which readers of a shared segment
// file cannot use; io.SectionReader does not qualify.) It reports
// handled=false, having written nothing, when f is not an *os.File, w is
// not a syscall.Conn, or the kernel refuses the pair.
func sendFile(w io.Writer, f vfs.File, pos, n int64) (written int64, handled bool, err error) {
	of, ok := f.(vfs.OSFile)
	if !ok {
		return 0, false, nil
	}
	dc, ok := w.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	dst, err := dc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	src, err := of.OSFile().SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	handled = true
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		off := pos
		werr := dst.Write(func(dfd uintptr) bool {
			for written < n {
				chunk := int(min(n-written, 1<<30))
				m, e := syscall.Sendfile(int(dfd), int(sfd), &off, chunk)
				if m > 0 {
					written += int64(m)
					sendfileBytes.Add(int64(m))
				}
				switch {
				case e == syscall.EINTR:
					continue
				case e == syscall.EAGAIN:
					return false // wait until the socket is writable
				case (e == syscall.EINVAL || e == syscall.ENOSYS) && written == 0:
					handled = false
					return true
				case e != nil:
					serr = e
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF // the file is shorter than expected
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if !handled {
		return 0, false, nil
	}
	if serr == nil {
		serr = cerr
	}
	if serr != nil {
		return written, true, &sendfileError{err: serr}
	}
	return written, true, nil
}

// sendfileError wraps a sendfile(2) failure.
type sendfileError struct{ err error }

func (e *sendfileError) Error() string { return "log: sendfile: " + e.err.Error() }
func (e *sendfileError) Unwrap() error { return e.err }
