package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the image runs as: not root, and numeric, so that the
// kubelet can enforce runAsNonRoot without reading /etc/passwd (the
// chart's podSecurityContext says the same).
const (
	uid = 65532
	gid = 65532
	// entrypoint is where the binary lives in the image.
	entrypoint = "/usr/local/bin/upgate"
)

// options say what image to build.
type options struct {
	Binary, Out                     string
	Repository, Tag                 string
	Version, Revision, Source, Arch string
	Created                         time.Time
}

// build assembles the image around bin, which must be a static Linux
// executable: the image has no C library for a dynamic one to load.
func build(o options, bin []byte) (v1.Image, error) {
	if err := static(bin); err != nil {
		return nil, err
	}
	fs, err := rootfs(bin, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(fs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "hack/image: upgate " + o.Version, Created: v1.Time{Time: o.Created}},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: o.Created}
	labels := map[string]string{
		"org.opencontainers.image.title":       "upgate",
		"org.opencontainers.image.description": "Policy-gated Kubernetes upgrades",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.source":      o.Source,
	}
	if o.Revision != "" {
		labels["org.opencontainers.image.revision"] = o.Revision
	}
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{entrypoint},
		Env:        []string{"PATH=/usr/local/bin", "HOME=/tmp"},
		WorkingDir: "/",
		Labels:     labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	// The manifest carries the labels too, as OCI annotations.
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// static refuses a binary that needs a dynamic loader (a cgo build): it
// would not start in an image without a C library.
func static(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("the binary is not a Linux executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("the binary is dynamically linked: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// rootfs is the image's one layer: the binary, the users and an empty
// /tmp, owned by root with fixed times so the same binary gives the same
// bytes.
func rootfs(bin []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/tmp:/sbin/nologin\n", uid, gid)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", gid)
	for _, step := range []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("tmp/", 0o1777) },
		func() error { return dir("usr/", 0o755) },
		func() error { return dir("usr/local/", 0o755) },
		func() error { return dir("usr/local/bin/", 0o755) },
		func() error { return file(entrypoint[1:], 0o755, bin) },
		tw.Close,
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// writeLayout replaces dir with an OCI image layout holding img, named
// ref (org.opencontainers.image.ref.name), as crane and skopeo read it.
func writeLayout(dir, ref string, img v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
}
