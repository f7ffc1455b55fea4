package inventory

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readWithin runs ReadContext and fails the test if it has not returned
// after a generous bound: the reads under test used to never end.
func readWithin(t *testing.T, ctx context.Context, paths []string, stdin io.Reader, opts ReadOptions) (*Inventory, error) {
	t.Helper()
	type result struct {
		inv *Inventory
		err error
	}
	done := make(chan result, 1)
	go func() {
		inv, err := ReadContext(ctx, paths, stdin, opts)
		done <- result{inv, err}
	}()
	select {
	case r := <-done:
		return r.inv, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Read(%v) did not end", paths)
		return nil, nil
	}
}

func wantBadInput(t *testing.T, err error, mention string) {
	t.Helper()
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("error %v, want one wrapping ErrBadInput", err)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("error %q does not mention %q", err, mention)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is more than one line", err)
	}
}

func TestReadRefusesDevices(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := readWithin(t, context.Background(), []string{"/dev/zero"}, nil, ReadOptions{})
	wantBadInput(t, err, "character device")

	// The same device under a manifest's name, inside a directory.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "z.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err = readWithin(t, context.Background(), []string{dir}, nil, ReadOptions{})
	wantBadInput(t, err, "z.yaml")
}

func TestReadFollowsLinksToRegularFiles(t *testing.T) {
	// A mounted ConfigMap's files are links into a hidden directory.
	dir := t.TempDir()
	data := filepath.Join(dir, "..data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "nodes.yaml"), "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n")
	if err := os.Symlink(filepath.Join("..data", "nodes.yaml"), filepath.Join(dir, "nodes.yaml")); err != nil {
		t.Fatal(err)
	}
	inv, err := readWithin(t, context.Background(), []string{dir}, nil, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 1 {
		t.Errorf("%d nodes, want 1", len(inv.Nodes))
	}
}

// endless is a stream that never ends: yes(1), or a pipe left open.
type endless struct{ b byte }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = e.b
	}
	return len(p), nil
}

func TestReadBoundsInputSize(t *testing.T) {
	// An endless text stream on stdin ends at the limit.
	_, err := readWithin(t, context.Background(), []string{"-"}, endless{'a'}, ReadOptions{MaxBytes: 1 << 20})
	wantBadInput(t, err, "1 MiB limit")

	// A file larger than what is left is refused before it is read.
	dir := t.TempDir()
	small := filepath.Join(dir, "a.yaml")
	writeFile(t, small, "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n")
	big := filepath.Join(dir, "b.yaml")
	writeFile(t, big, "apiVersion: v1\nkind: Node\nmetadata: {name: b}\n# "+strings.Repeat("x", 100)+"\n")
	_, err = readWithin(t, context.Background(), []string{small, big}, nil, ReadOptions{MaxBytes: 100})
	wantBadInput(t, err, "b.yaml")

	// The bound is for all inputs together, and inclusive.
	info, err := os.Stat(small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readWithin(t, context.Background(), []string{small}, nil, ReadOptions{MaxBytes: info.Size()}); err != nil {
		t.Errorf("a file of exactly the limit: %v", err)
	}
	_, err = readWithin(t, context.Background(), []string{small, small}, nil, ReadOptions{MaxBytes: info.Size() + 1})
	wantBadInput(t, err, "limit")
}

func TestReadRefusesBinary(t *testing.T) {
	// cat /dev/zero | upgate check --from -
	_, err := readWithin(t, context.Background(), []string{"-"}, endless{0}, ReadOptions{})
	wantBadInput(t, err, "NUL")
	_, err = readWithin(t, context.Background(), []string{"-"}, strings.NewReader("apiVersion: v1\x00"), ReadOptions{})
	wantBadInput(t, err, "offset 14")
}

func TestReadStdinEndsOnCancel(t *testing.T) {
	// A pipe that sends the start of a manifest and then nothing, never
	// closing: the read waits for more until the context is cancelled.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("apiVersion: v1\nkind: Node\n")) }()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := readWithin(t, ctx, []string{"-"}, pr, ReadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrBadInput) {
		t.Errorf("a cancelled read is not bad input: %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{100: "100 B", 1 << 20: "1 MiB", 4 << 30: "4 GiB", 1536: "1.5 KiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
