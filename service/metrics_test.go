package service

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/upgate-dev/upgate/finding"
	"github.com/upgate-dev/upgate/internal/tooltest"
)

// /metrics has the Go runtime's and the process's series beside upgate's,
// and all of them pass promtool's lint.
func TestMetricsIncludeGoAndProcessCollectors(t *testing.T) {
	s, err := New(func(context.Context) (*finding.Report, error) { return passed(), nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.RunOnce(context.Background())
	metrics := serve(t, s.Handler(), "/metrics").Body.String()
	want := []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "go_gc_duration_seconds", "upgate_check_up 1"}
	if runtime.GOOS == "linux" {
		// The process collector reads /proc.
		want = append(want, "process_start_time_seconds ", "process_resident_memory_bytes ", "process_open_fds ")
	}
	for _, w := range want {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	lint := exec.Command(tooltest.Require(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(metrics)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
