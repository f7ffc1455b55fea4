package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Reads always end: every input is a regular file (or stdin), all inputs
// together are bounded in size, text never holds a NUL byte, and a read
// stops when its context is cancelled, even one blocked on a pipe.

// DefaultMaxInputBytes bounds what one Read takes from all its inputs
// together when ReadOptions.MaxBytes is zero: 4 GiB. The largest input
// Kubernetes' published limits give (5,000 nodes, 150,000 pods) is a
// 631 MB upgate snapshot, or a 2.8 GB `kubectl get -o json` List
// (docs/performance.md); the bound leaves room for both, with real pods
// larger than the synthetic ones, and refuses an endless stream before
// it has taken the machine's memory.
const DefaultMaxInputBytes int64 = 4 << 30

// ReadOptions bound a Read. The zero value is the defaults.
type ReadOptions struct {
	// MaxBytes bounds the bytes read from all inputs together; zero means
	// DefaultMaxInputBytes.
	MaxBytes int64
}

func (o ReadOptions) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxInputBytes
	}
	return o.MaxBytes
}

// openRegular opens path for reading if it is a regular file (symbolic
// links followed). Anything else is refused before a byte is read: a FIFO
// would block the open, and a device such as /dev/zero never ends. The
// open itself does not block (O_NONBLOCK, which regular files ignore), and
// the opened file is checked again, so a file swapped for a FIFO between
// the two checks is refused too.
func openRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrBadInput, path, errors.Unwrap(err))
	}
	if err := regular(path, st.Mode()); err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrBadInput, path, errors.Unwrap(err))
	}
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrBadInput, path, errors.Unwrap(err))
	}
	if err := regular(path, st.Mode()); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// regular refuses a file mode that is not a regular file's.
func regular(path string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m.IsDir():
		what = "a directory"
	}
	return fmt.Errorf("%w: %s: is %s; --from reads regular files and directories, or a stream on stdin (--from - < FILE)", ErrBadInput, path, what)
}

// budget is what is left of ReadOptions.MaxBytes, shared by a Read's inputs.
type budget struct {
	max, left int64
}

func (b *budget) tooLarge(name string) error {
	return fmt.Errorf("%w: %s: the input is larger than the %s limit of one read (raise --max-input-size)",
		ErrBadInput, name, formatBytes(b.max))
}

// guard is one input as the decoder reads it: it counts the bytes
// against the budget, refuses binary data, and stops at cancellation. Its
// err, once set, is why the input was refused; it takes precedence over
// whatever the decoder made of the short read.
type guard struct {
	ctx    context.Context
	r      io.Reader
	name   string
	budget *budget
	off    int64
	err    error
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if err := g.ctx.Err(); err != nil {
		g.err = context.Cause(g.ctx)
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if err != nil && g.ctx.Err() != nil {
		// Cut short by the cancellation (an interruptible stdin says so).
		g.err = context.Cause(g.ctx)
		return 0, g.err
	}
	if i := bytes.IndexByte(p[:n], 0); i >= 0 {
		// YAML and JSON text never holds a NUL (JSON escapes it, YAML
		// forbids it): this is binary data, or /dev/zero.
		g.err = fmt.Errorf("%w: %s: binary data (a NUL byte at offset %d), not YAML or JSON text", ErrBadInput, g.name, g.off+int64(i))
		return 0, g.err
	}
	g.off += int64(n)
	if g.budget.left -= int64(n); g.budget.left < 0 {
		g.err = g.budget.tooLarge(g.name)
		return 0, g.err
	}
	return n, err
}

// interruptible reads r on its own goroutine so that a read blocked on a
// pipe that never ends (or never closes) returns once ctx is cancelled.
// The blocked read is left behind: the process is on its way out.
type interruptible struct {
	ctx    context.Context
	chunks chan chunk
	free   chan []byte
	stop   chan struct{}
	cur    chunk
	off    int
	done   bool
}

type chunk struct {
	b   []byte
	err error
}

const interruptibleChunk = 256 << 10

func newInterruptible(ctx context.Context, r io.Reader) *interruptible {
	in := &interruptible{
		ctx: ctx, chunks: make(chan chunk, 1), free: make(chan []byte, 2), stop: make(chan struct{}),
	}
	in.free <- make([]byte, interruptibleChunk)
	in.free <- make([]byte, interruptibleChunk)
	go in.pump(r)
	return in
}

func (in *interruptible) pump(r io.Reader) {
	for {
		var b []byte
		select {
		case b = <-in.free:
		case <-in.stop:
			return
		}
		n, err := r.Read(b[:cap(b)])
		select {
		case in.chunks <- chunk{b[:n], err}:
		case <-in.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (in *interruptible) Read(p []byte) (int, error) {
	for {
		if in.off < len(in.cur.b) {
			n := copy(p, in.cur.b[in.off:])
			in.off += n
			return n, nil
		}
		if in.cur.err != nil {
			return 0, in.cur.err
		}
		if in.cur.b != nil {
			in.free <- in.cur.b // two buffers: one being read into, one here
			in.cur.b = nil
		}
		select {
		case c := <-in.chunks:
			in.cur, in.off = c, 0
		case <-in.ctx.Done():
			return 0, context.Cause(in.ctx)
		}
	}
}

// close lets the pump go if it is not blocked in a read.
func (in *interruptible) close() {
	if !in.done {
		in.done = true
		close(in.stop)
	}
}

// formatBytes renders n as a power-of-two size: 4 GiB, 512 MiB, 100 B.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
