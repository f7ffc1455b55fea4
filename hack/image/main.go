// Command image builds upgate's OCI image without a container daemon, with
// go-containerregistry: one layer on an empty base holding a static upgate
// binary, /etc/passwd and /etc/group naming the non-root user it runs as,
// and /tmp; labelled with the OCI annotations for version, source and
// revision. It writes an OCI image layout that `crane push DIR REF` or
// `skopeo copy oci:DIR docker://REF` push as is (`make image`).
//
//	go run ./hack/image -binary bin/linux/upgate -out _out/image \
//	    -repository ghcr.io/upgate-dev/upgate -tag 0.1.0 -version v0.1.0 -revision $(git rev-parse HEAD)
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// defaultSource is the image's org.opencontainers.image.source.
const defaultSource = "https://github.com/upgate-dev/upgate"

func main() {
	var o options
	flag.StringVar(&o.Binary, "binary", "", "the static upgate binary to put in the image (CGO_ENABLED=0)")
	flag.StringVar(&o.Out, "out", "_out/image", "directory of the OCI image layout to write (replaced)")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/upgate-dev/upgate", "image name, for the layout's ref name")
	flag.StringVar(&o.Tag, "tag", "", "image tag (required)")
	flag.StringVar(&o.Version, "version", "", "org.opencontainers.image.version (default: the tag)")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision: the source commit")
	flag.StringVar(&o.Source, "source", defaultSource, "org.opencontainers.image.source")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "the binary's architecture")
	epoch := flag.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time in Unix seconds (SOURCE_DATE_EPOCH); empty: 0, for reproducible bytes")
	flag.Parse()
	if err := run(o, *epoch); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(o options, epoch string) error {
	if o.Binary == "" || o.Tag == "" {
		return errors.New("-binary and -tag are required")
	}
	if epoch != "" {
		s, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return fmt.Errorf("-created %q: not Unix seconds", epoch)
		}
		o.Created = time.Unix(s, 0).UTC()
	}
	if o.Version == "" {
		o.Version = o.Tag
	}
	if o.Source == "" {
		o.Source = defaultSource
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return err
	}
	img, err := build(o, bin)
	if err != nil {
		return err
	}
	if err := writeLayout(o.Out, o.Repository+":"+o.Tag, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s:%s %s in %s (OCI layout; push with `crane push %s %s:%s`)\n", o.Repository, o.Tag, d, o.Out, o.Out, o.Repository, o.Tag)
	return nil
}
