// Package kubever parses the Kubernetes version strings upgate meets: user
// input (`1.36`, `v1.36.2`), server versions and image tags, including vendor
// suffixes such as `v1.35.2-eks-abc` or `v1.30.1+k3s1`.
package kubever

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// shape accepts major.minor with an optional patch, an optional leading "v",
// and anything after a '-' or '+' (pre-release or vendor build metadata),
// which skew rules ignore because they compare minors only.
var shape = regexp.MustCompile(`^v?(\d+\.\d+(?:\.\d+)?)([-+].*)?$`)

// Parse reads a Kubernetes version. The vendor suffix is kept out of the
// returned value: skew and path rules compare major, minor and patch only.
func Parse(s string) (*version.Version, error) {
	m := shape.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("%q is not a Kubernetes version (want 1.36, v1.36 or v1.36.2)", s)
	}
	v, err := version.ParseGeneric(m[1])
	if err != nil {
		return nil, fmt.Errorf("%q is not a Kubernetes version: %w", s, err)
	}
	if v.Major() == 0 && v.Minor() == 0 {
		return nil, fmt.Errorf("%q is not a Kubernetes version", s)
	}
	return v, nil
}

// Canonical renders v as vMAJOR.MINOR.PATCH; a missing patch reads as 0.
func Canonical(v *version.Version) string {
	return fmt.Sprintf("v%d.%d.%d", v.Major(), v.Minor(), v.Patch())
}

// HasPatch reports whether s names a patch release rather than just a minor.
func HasPatch(s string) bool {
	m := shape.FindStringSubmatch(strings.TrimSpace(s))
	return m != nil && strings.Count(m[1], ".") == 2
}

// FromImage returns the version in an image reference's tag, such as
// registry.k8s.io/kube-apiserver:v1.35.2. ok is false when the image carries
// no tag, a digest, or a tag that is not a version (latest): callers then
// treat the component's version as unknown rather than guess.
func FromImage(image string) (tag string, v *version.Version, ok bool) {
	if strings.Contains(image, "@") {
		return "", nil, false
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return "", nil, false
	}
	tag = image[colon+1:]
	v, err := Parse(tag)
	if err != nil {
		return tag, nil, false
	}
	return tag, v, true
}
