package inventory_test

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/synth"
)

func tableKinds() []string {
	var out []string
	for _, k := range inventory.Kinds {
		out = append(out, k.Kind)
	}
	slices.Sort(out)
	return out
}

// The inventory has one list per kind of the table, and no other: each
// list field's element type is a kind of the table, and counts (derived
// from the table) agree with the fields' lengths.
func TestKindTableMatchesTheInventory(t *testing.T) {
	inv := synth.Collected(synth.Cluster(synth.Options{Nodes: 6}))
	v := reflect.ValueOf(inv).Elem()
	counts := inv.Counts()
	var fields []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type.Kind() != reflect.Slice || f.Type.Elem().Kind() != reflect.Pointer {
			continue
		}
		kind := f.Type.Elem().Elem().Name()
		fields = append(fields, kind)
		if got, want := counts[kind], v.Field(i).Len(); got != want {
			t.Errorf("Counts()[%s] = %d, the field %s holds %d", kind, got, f.Name, want)
		}
	}
	slices.Sort(fields)
	if want := tableKinds(); !slices.Equal(fields, want) {
		t.Errorf("the inventory's lists hold %v, the table names %v", fields, want)
	}
}

// The README's kubectl line, the way to feed --from by hand, asks for
// every kind of the table.
func TestKindTableInTheREADME(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "kubectl get nodes,") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("no `kubectl get nodes,...` line in the README")
	}
	asked := strings.Split(strings.Fields(line)[2], ",")
	for _, k := range inventory.Kinds {
		if !slices.Contains(asked, k.Resource) && (k.Short == "" || !slices.Contains(asked, k.Short)) {
			t.Errorf("the README's kubectl line does not ask for %s (%s)", k.Kind, k.Resource)
		}
	}
}

// docs/performance.md's table of what a snapshot keeps says what each
// kind's Keeps says, kind by kind, in the table's order.
func TestKindKeepsInTheDocs(t *testing.T) {
	data, err := os.ReadFile("../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## What a snapshot keeps, kind by kind"
	doc := string(data)
	start := strings.Index(doc, heading)
	if start < 0 {
		t.Fatalf("no %q section in docs/performance.md", heading)
	}
	section := doc[start+len(heading):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var rows [][2]string
	for _, l := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(l, "| "), " | ")
		if !strings.HasPrefix(l, "| ") || len(cells) != 2 || cells[0] == "Kind" {
			continue
		}
		rows = append(rows, [2]string{cells[0], cells[1]})
	}
	var want [][2]string
	for _, k := range inventory.Kinds {
		want = append(want, [2]string{k.Kind, k.Keeps})
	}
	if !slices.Equal(rows, want) {
		t.Errorf("docs/performance.md lists\n%q\nthe table keeps\n%q", rows, want)
	}
}
