package inventory

import "sort"

// EvictableByNode counts each node's evictable pods (Evictable): what a
// drain of the node moves.
func EvictableByNode(inv *Inventory) map[string]int {
	out := map[string]int{}
	for _, p := range inv.Pods {
		if Evictable(p) {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

// SortUpgradeOrder sorts one stage's nodes into the order upgate run
// upgrades them, the one order the plan prints, the runner follows and
// the capacity check assumes when it groups the nodes drained together:
// workers with fewer evictable pods first (a failure shows early and
// costs less), ties and the other stages by name. pods gives a node's
// evictable pods; it is read only for workers.
func SortUpgradeOrder[T any](nodes []T, name func(T) string, workers bool, pods func(T) int) {
	sort.SliceStable(nodes, func(i, j int) bool {
		if workers {
			if a, b := pods(nodes[i]), pods(nodes[j]); a != b {
				return a < b
			}
		}
		return name(nodes[i]) < name(nodes[j])
	})
}
