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
	if v.Major() > MaxMajor || v.Minor() > MaxMinor || v.Patch() > MaxPatch {
		return nil, fmt.Errorf("%q is not a Kubernetes version: a number is out of range (major at most %d, minor %d, patch %d)",
			s, MaxMajor, MaxMinor, MaxPatch)
	}
	return v, nil
}

// The largest numbers Parse accepts. Kubernetes is at major 1 and etcd,
// whose image tags are read too, at 3; a minor of 1.999 is centuries of
// releases away. The policies order versions by major*1000+minor
// (policies/lib.rego minor_index), which a minor of 1000 or more would
// break. Anything larger is a typo or hostile input, never a release:
// refusing it keeps every later computation (hops, skew arithmetic) small.
const (
	MaxMajor = 99
	MaxMinor = 999
	MaxPatch = 99999
)

// MaxMinorGap is how many minors above the current control plane a target
// may be. Upgrades go one minor at a time (plan turns a gap into hops), and
// Kubernetes releases three minors a year and supports the last three: ten
// minors is more than three years of releases, further than any cluster
// still being upgraded in place has fallen behind, and a gap beyond it is
// far likelier a typo (v1.63 for v1.36, v1.360) than an intended path.
const MaxMinorGap = 10

// CheckGap refuses a target upgate cannot plan an upgrade to from current:
// a newer major version, or more than MaxMinorGap minors ahead. A target
// at or below current is not refused here: the path.downgrade and
// path.same-version checks report it.
func CheckGap(current, target *version.Version) error {
	switch {
	case target.Major() > current.Major():
		return fmt.Errorf("target %s is a newer major version than the current control plane %s: upgate plans upgrades within one major version",
			Canonical(target), Canonical(current))
	case target.Major() == current.Major() && target.Minor() > current.Minor()+MaxMinorGap:
		return fmt.Errorf("target %s is %d minors above the current control plane %s: upgate plans at most %d at once (upgrade to v%d.%d first)",
			Minor(target), target.Minor()-current.Minor(), Canonical(current), MaxMinorGap,
			current.Major(), current.Minor()+MaxMinorGap)
	}
	return nil
}

// Canonical renders v as vMAJOR.MINOR.PATCH; a missing patch reads as 0.
func Canonical(v *version.Version) string {
	return fmt.Sprintf("v%d.%d.%d", v.Major(), v.Minor(), v.Patch())
}

// SplitImage splits an image reference into its name and tag. tagged is
// false for a reference by digest (name@sha256:..., left whole in name) or
// one with no tag; a registry's port is not a tag.
func SplitImage(image string) (name, tag string, tagged bool) {
	if strings.Contains(image, "@") {
		return image, "", false
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return image, "", false
	}
	return image[:colon], image[colon+1:], true
}

// Minor renders v's minor release as vMAJOR.MINOR, whatever its patch.
func Minor(v *version.Version) string {
	return fmt.Sprintf("v%d.%d", v.Major(), v.Minor())
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
	_, tag, tagged := SplitImage(image)
	if !tagged {
		return "", nil, false
	}
	v, err := Parse(tag)
	if err != nil {
		return tag, nil, false
	}
	return tag, v, true
}
