package inventory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAcceptedForms(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		stdin     string
		nodes     int
		pods      int
		deploys   int
		others    int
		serverVer string
	}{
		{name: "multi-document yaml", paths: []string{"testdata/multi.yaml"}, nodes: 1, deploys: 1},
		{name: "json List", paths: []string{"testdata/list.json"}, nodes: 2, pods: 2, others: 1},
		{name: "typed PodList without item kinds", paths: []string{"testdata/podlist.json"}, pods: 1},
		{name: "directory, recursively", paths: []string{"testdata"}, nodes: 3, pods: 3, deploys: 1, others: 1},
		{name: "stdin", paths: []string{"-"}, stdin: "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n", nodes: 1},
		{name: "json stream on stdin", paths: []string{"-"}, stdin: `{"apiVersion":"v1","kind":"Node","metadata":{"name":"a"}} {"apiVersion":"v1","kind":"Node","metadata":{"name":"b"}}`, nodes: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(tt.paths, strings.NewReader(tt.stdin))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(inv.Nodes) != tt.nodes || len(inv.Pods) != tt.pods || len(inv.Deployments) != tt.deploys {
				t.Errorf("got %d nodes, %d pods, %d deployments; want %d, %d, %d",
					len(inv.Nodes), len(inv.Pods), len(inv.Deployments), tt.nodes, tt.pods, tt.deploys)
			}
			if got := inv.Others["Ingress"]; got != tt.others {
				t.Errorf("Others[Ingress] = %d, want %d", got, tt.others)
			}
		})
	}
}

func TestReadRecordsAPIUsagesAndScrubs(t *testing.T) {
	inv, err := Read([]string{"testdata/multi.yaml", "testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]UsageVia{
		"Deployment shop/web apps/v1":                ViaServed,
		"Deployment shop/web extensions/v1beta1":     ViaLastApplied,
		"Deployment shop/web apps/v1beta2":           ViaManagedFields,
		"Ingress shop/old networking.k8s.io/v1beta1": ViaServed,
	}
	got := map[string]UsageVia{}
	for _, u := range inv.APIUsages {
		got[u.Kind+" "+qualified(u.Namespace, u.Name)+" "+u.APIVersion] = u.Via
	}
	for k, via := range want {
		if got[k] != via {
			t.Errorf("usage %q: got via %q, want %q", k, got[k], via)
		}
	}
	d := inv.Deployments[0]
	if n := len(d.Spec.Template.Spec.Containers); n != 0 {
		t.Errorf("pod template kept (%d containers): no check reads it", n)
	}
	if la := d.Annotations[LastAppliedAnnotation]; strings.Contains(la, "hunter2") {
		t.Errorf("last-applied body kept: %s", la)
	}
	if len(d.ManagedFields) != 0 {
		t.Errorf("managedFields kept")
	}
}

func TestReadMalformed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body, wantInMsg string
	}{
		{"bad.yaml", "apiVersion: v1\nkind: Node\nmetadata: [\n", "bad.yaml"},
		{"nokind.yaml", "apiVersion: v1\nmetadata:\n  name: x\n", "no apiVersion or kind"},
		{"noname.yaml", "apiVersion: v1\nkind: Node\nmetadata: {}\n", "no metadata.name"},
		{"scalar.yaml", "just a string\n", "not an object"},
		{"empty.yaml", "", "no Kubernetes object"},
		{"badtype.json", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},"spec":{"unschedulable":"yes"}}`, "Node n"},
		{"badlist.json", `{"apiVersion":"v1","kind":"List","items":[1]}`, "list item 0"},
		{"truncated.json", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1"`, "truncated.json"},
		{"report.json", `{"apiVersion":"upgate.dev/v1alpha1","kind":"Report","findings":[]}`, "no recorded snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name, tt.body)
			_, err := Read([]string{p}, nil)
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("Read(%s) error = %v, want ErrBadInput", tt.name, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantInMsg) || !strings.Contains(msg, tt.name) {
				t.Errorf("message %q should name the file and contain %q", msg, tt.wantInMsg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
		})
	}
	if _, err := Read([]string{filepath.Join(dir, "missing.yaml")}, nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("missing file: err = %v, want ErrBadInput", err)
	}
	if _, err := Read([]string{t.TempDir()}, nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty directory: err = %v, want ErrBadInput", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	inv, err := Read([]string{"testdata"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv.ServerVersion = "v1.35.2"
	var first bytes.Buffer
	if err := inv.WriteSnapshot(&first); err != nil {
		t.Fatal(err)
	}
	back, err := Read([]string{"-"}, bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("read snapshot back: %v", err)
	}
	if back.ServerVersion != "v1.35.2" {
		t.Errorf("server version = %q", back.ServerVersion)
	}
	back.Sources = inv.Sources
	var second bytes.Buffer
	if err := back.WriteSnapshot(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("snapshot changed on a round trip:\n%s\n---\n%s", first.String(), second.String())
	}
}

// A snapshot carries the kubelet stats summaries read, sorted by node,
// so that --from replays what the collector saw.
func TestSnapshotCarriesNodeStats(t *testing.T) {
	inv, err := Read([]string{"testdata"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	free, capacity := uint64(524288000), uint64(20e9)
	inv.NodeStats = []NodeStat{
		{Node: "worker-2", Error: "forbidden: nodes/proxy get is not granted"},
		{Node: "worker-1", AvailableBytes: &free, CapacityBytes: &capacity},
	}
	var first bytes.Buffer
	if err := inv.WriteSnapshot(&first); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(first.Bytes(), []byte(`"nodeStats":[{"node":"worker-1","availableBytes":524288000,"capacityBytes":20000000000},{"node":"worker-2","error":"forbidden: nodes/proxy get is not granted"}]`)) {
		t.Fatalf("snapshot does not carry the node stats in node order:\n%.600s", first.String())
	}
	back, err := Read([]string{"-"}, bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.NodeStats) != 2 || !back.NodeStats[0].Read() || *back.NodeStats[0].AvailableBytes != free ||
		back.NodeStats[1].Read() || back.NodeStats[1].Error == "" {
		t.Errorf("read back %+v", back.NodeStats)
	}
	back.Sources = inv.Sources
	var second bytes.Buffer
	if err := back.WriteSnapshot(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Error("snapshot with node stats changed on a round trip")
	}
}

func TestCurrentVersion(t *testing.T) {
	inv, err := Read([]string{"testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, from, err := inv.CurrentVersion("")
	if err != nil || v.String() != "1.34.9" || from != "kube-apiserver image" {
		t.Errorf("oldest apiserver: got %v from %q, err %v; want 1.34.9", v, from, err)
	}
	v, _, err = inv.CurrentVersion("v1.33")
	if err != nil || v.Minor() != 33 {
		t.Errorf("override: got %v, %v", v, err)
	}
	if _, _, err := inv.CurrentVersion("banana"); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad override: err = %v", err)
	}
	inv.ServerVersion = "v1.36.1"
	if v, _, _ := inv.CurrentVersion(""); v.Minor() != 36 {
		t.Errorf("recorded version should win over images, got %v", v)
	}
	empty, err := Read([]string{"testdata/podlist.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = empty.CurrentVersion("")
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "--server-version") {
		t.Errorf("unknown version: err = %v", err)
	}
}

func TestRolesAndComponents(t *testing.T) {
	inv, err := Read([]string{"testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	roles := inv.NodeRoles()
	if !roles["cp-1"].ControlPlane || !roles["cp-2"].ControlPlane || roles["cp-2"].Worker {
		t.Errorf("cp-2 hosts a kube-apiserver pod and is a control-plane node: %+v", roles)
	}
	var apiservers int
	for _, c := range inv.Components() {
		if c.Name == ComponentAPIServer {
			apiservers++
		}
	}
	if apiservers != 2 {
		t.Errorf("got %d kube-apiserver components, want 2", apiservers)
	}
}

func TestInputDigest(t *testing.T) {
	one, err := Read([]string{"testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := "sha256:" + hex.EncodeToString(sum[:]); one.InputDigest != want {
		t.Errorf("one file: %s, want its sha256 %s", one.InputDigest, want)
	}
	two, err := Read([]string{"testdata/list.json", "testdata/multi.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := Read([]string{"testdata/multi.yaml", "testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if two.InputDigest == one.InputDigest || two.InputDigest == swapped.InputDigest || !strings.HasPrefix(two.InputDigest, "sha256:") {
		t.Errorf("several files must hash to their own digest, in order: %s %s %s", one.InputDigest, two.InputDigest, swapped.InputDigest)
	}
}

func TestRoleSelectorsOverrideDerivation(t *testing.T) {
	inv, err := Read([]string{"testdata/list.json"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// cp-2 is a control-plane node only by the kube-apiserver pod it hosts;
	// a selector makes the role exactly the nodes it matches.
	if !inv.NodeRoles()["cp-2"].ControlPlane {
		t.Fatal("cp-2 should be derived as control plane")
	}
	rs, err := ParseRoleSelectors("node-role.kubernetes.io/control-plane", "", "kubernetes.io/hostname=cp-2", "")
	if err != nil {
		t.Fatal(err)
	}
	inv.RoleSelectors = rs
	roles := inv.NodeRoles()
	if !roles["cp-1"].ControlPlane || roles["cp-2"].ControlPlane || !roles["cp-2"].Worker {
		t.Errorf("with a control-plane selector, cp-2 is a worker: %+v", roles)
	}
	if roles["cp-2"].Ingress {
		t.Errorf("cp-2 has no hostname label, so it is no ingress node: %+v", roles["cp-2"])
	}
	if _, err := ParseRoleSelectors("a in (", "", "", ""); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad selector: %v", err)
	}
}
