package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImageRunsFromItsOwnRoot builds upgate static, as `make image` does, writes
// the OCI layout, reads it back as a registry client would, and checks
// what the chart relies on: a numeric non-root user, the OCI labels, and
// an entrypoint that runs from the unpacked root filesystem alone (the
// binary is static, so nothing of the host's is loaded) and prints the
// stamped version.
func TestImageRunsFromItsOwnRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is a Linux image")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "upgate")
	const version = "v9.8.7-test"
	// Without make image's -trimpath: it changes every package's build
	// cache key, so the test would compile the whole module graph again
	// beside go test's own build (4 of a fresh 2-core machine's 12 minutes
	// of make test). Nothing checked here depends on the file paths
	// recorded in the binary.
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/upgate-dev/upgate/cli.stampedVersion="+version, "../../cmd/upgate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "layout")
	o := options{Binary: bin, Out: out, Repository: "ghcr.io/upgate-dev/upgate", Tag: "9.8.7", Revision: "0123abc"}
	if err := run(o, "1700000000"); err != nil {
		t.Fatal(err)
	}

	idx, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %v %v", m, err)
	}
	if ref := m.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "ghcr.io/upgate-dev/upgate:9.8.7" {
		t.Errorf("ref name %q", ref)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (numeric, not root)", cf.Config.User)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "9.8.7",
		"org.opencontainers.image.revision": "0123abc",
		"org.opencontainers.image.source":   "https://github.com/upgate-dev/upgate",
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if !cf.Created.Time.Equal(time.Unix(1700000000, 0)) || cf.OS != "linux" {
		t.Errorf("created %s os %s", cf.Created, cf.OS)
	}

	// Unpack the image's filesystem and run its entrypoint from there.
	root := filepath.Join(dir, "root")
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode)&0o777)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc", "passwd")); err != nil || !strings.Contains(string(b), ":65532:65532:") {
		t.Errorf("/etc/passwd: %q %v", b, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ep := filepath.Join(root, cf.Config.Entrypoint[0])
	cmd := exec.CommandContext(ctx, ep, "version")
	cmd.Dir, cmd.Env = root, cf.Config.Env
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "upgate "+version) {
		t.Errorf("%s version: %v\n%s", cf.Config.Entrypoint[0], err, got)
	}
}

// TestImageRefusesADynamicBinary: a cgo build would not start in an image
// without a C library, so the builder says so instead of writing one.
func TestImageRefusesADynamicBinary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs a Linux executable")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to stand for a dynamic executable")
	}
	sh, _ = filepath.EvalSymlinks(sh)
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := build(options{Tag: "x", Version: "x"}, b); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("build(%s) = %v, want a refusal naming CGO_ENABLED=0", sh, err)
	}
}
