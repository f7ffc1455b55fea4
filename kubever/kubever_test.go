package kubever

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in                  string
		major, minor, patch uint
		wantErr             bool
	}{
		{in: "1.36", major: 1, minor: 36},
		{in: "v1.36", major: 1, minor: 36},
		{in: "1.36.2", major: 1, minor: 36, patch: 2},
		{in: "v1.36.2", major: 1, minor: 36, patch: 2},
		{in: "v1.35.2-eks-abc", major: 1, minor: 35, patch: 2},
		{in: "v1.30.1+k3s1", major: 1, minor: 30, patch: 1},
		{in: "v1.29.4-gke.1043002", major: 1, minor: 29, patch: 4},
		{in: " v1.31.0 ", major: 1, minor: 31},
		{in: "", wantErr: true},
		{in: "latest", wantErr: true},
		{in: "v1", wantErr: true},
		{in: "1.36.2.1", wantErr: true},
		{in: "v1.x", wantErr: true},
		{in: "sha256:abcdef", wantErr: true},
		{in: "0.0", wantErr: true},
		{in: "01.36", wantErr: true},
		// Numbers past any release are refused, not carried into hops.
		{in: "v1.999", major: 1, minor: 999},
		{in: "v1.2000000000", wantErr: true},
		{in: "1.1000", wantErr: true},
		{in: "100.1", wantErr: true},
		{in: "v1.36.100000", wantErr: true},
		{in: "v1.99999999999999999999999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want error", tt.in, v)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if v.Major() != tt.major || v.Minor() != tt.minor || v.Patch() != tt.patch {
				t.Fatalf("Parse(%q) = %d.%d.%d, want %d.%d.%d", tt.in, v.Major(), v.Minor(), v.Patch(), tt.major, tt.minor, tt.patch)
			}
		})
	}
}

func TestCanonicalAndHasPatch(t *testing.T) {
	v, err := Parse("1.36")
	if err != nil {
		t.Fatal(err)
	}
	if got := Canonical(v); got != "v1.36.0" {
		t.Errorf("Canonical = %q, want v1.36.0", got)
	}
	if HasPatch("1.36") || !HasPatch("v1.36.2") {
		t.Errorf("HasPatch: wrong answer for 1.36 or v1.36.2")
	}
	p, err := Parse("v1.36.2")
	if err != nil {
		t.Fatal(err)
	}
	if got := Minor(p); got != "v1.36" {
		t.Errorf("Minor(v1.36.2) = %q, want v1.36", got)
	}
}

func TestFromImage(t *testing.T) {
	tests := []struct {
		image string
		want  string
		ok    bool
	}{
		{"registry.k8s.io/kube-apiserver:v1.35.2", "v1.35.2", true},
		{"localhost:5000/kube-apiserver:v1.34.1-eks-1", "v1.34.1", true},
		{"registry.k8s.io/kube-apiserver:latest", "", false},
		{"registry.k8s.io/kube-apiserver@sha256:0123", "", false},
		{"registry.k8s.io/kube-apiserver:v1.35.2@sha256:0123", "", false},
		{"localhost:5000/kube-apiserver", "", false},
		{"kube-proxy", "", false},
	}
	for _, tt := range tests {
		_, v, ok := FromImage(tt.image)
		if ok != tt.ok {
			t.Errorf("FromImage(%q) ok = %v, want %v", tt.image, ok, tt.ok)
			continue
		}
		if ok && Canonical(v) != tt.want {
			t.Errorf("FromImage(%q) = %s, want %s", tt.image, Canonical(v), tt.want)
		}
	}
}

func TestCheckGap(t *testing.T) {
	tests := []struct {
		current, target string
		wantErr         bool
	}{
		{"v1.35.2", "v1.36", false},
		{"v1.35.2", "v1.45", false},
		{"v1.35.2", "v1.46", true},
		{"v1.35.2", "v1.360", true},
		{"v1.35.2", "v2.0", true},
		{"v1.35.2", "v1.20", false}, // a downgrade: path.downgrade says so
		{"v1.35.2", "v1.35", false},
	}
	for _, tt := range tests {
		c, err := Parse(tt.current)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Parse(tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckGap(c, v); (err != nil) != tt.wantErr {
			t.Errorf("CheckGap(%s, %s) = %v, want error %v", tt.current, tt.target, err, tt.wantErr)
		}
	}
}

func TestSplitImage(t *testing.T) {
	for _, tt := range []struct {
		image, name, tag string
		tagged           bool
	}{
		{"registry.k8s.io/kube-apiserver:v1.36.2", "registry.k8s.io/kube-apiserver", "v1.36.2", true},
		{"localhost:5000/etcd:3.6.4-0", "localhost:5000/etcd", "3.6.4-0", true},
		{"localhost:5000/etcd", "localhost:5000/etcd", "", false},
		{"etcd", "etcd", "", false},
		{"etcd@sha256:0123", "etcd@sha256:0123", "", false},
	} {
		name, tag, tagged := SplitImage(tt.image)
		if name != tt.name || tag != tt.tag || tagged != tt.tagged {
			t.Errorf("SplitImage(%q) = %q, %q, %t; want %q, %q, %t", tt.image, name, tag, tagged, tt.name, tt.tag, tt.tagged)
		}
	}
}
