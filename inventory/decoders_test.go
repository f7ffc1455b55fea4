package inventory

import (
	"slices"
	"testing"
)

// The readers decode exactly the kinds of the table.
func TestKindTableIsWhatTheReadersDecode(t *testing.T) {
	var decoded, table []string
	for k := range decoders {
		decoded = append(decoded, k)
	}
	for _, k := range Kinds {
		table = append(table, k.Kind)
	}
	slices.Sort(decoded)
	slices.Sort(table)
	if !slices.Equal(decoded, table) {
		t.Errorf("the readers decode %v, the table names %v", decoded, table)
	}
}
