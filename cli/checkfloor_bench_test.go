package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upgate-dev/upgate/synth"
)

// BenchmarkCheckVsFloor is issue 14's yardstick: for one file, in one
// process and one run, the whole check as `upgate check --from FILE
// --target v1.36 --format json` does it (read, evaluate, the report
// rendered to io.Discard; the policies compiled too, as every run does)
// against the floor, plain encoding/json decoding of the same file into
// untyped values (maps). The goal: ratio (check/floor) at most 1.0, for
// both dumps.
//
//   - compact: synth.FormatCompact, small objects (only what a minimal
//     real object carries and the checks read), at synth.BenchNodes()
//     ($UPGATE_BENCH_NODES, default 500 and 5,000 nodes);
//   - real: synth.FormatAPIServer with managedFields, objects as an API
//     server sends them, at synth.BenchRealNodes()
//     ($UPGATE_BENCH_REAL_NODES, default 1,000 nodes).
//
// Each iteration runs the floor, then the check, each after a collection
// that returns the heap to the OS, so neither inherits the other's
// memory. Time is the fastest iteration's. ratio is the median of the
// iterations' own ratios (each of a floor and the check right after it,
// so a load that drifts over minutes on a shared machine cancels out),
// ratio-lo and ratio-hi their range. $UPGATE_BENCH_FLOOR_REPS (default
// 1) sets how many iterations each b.N runs: with -benchtime 1x that is
// the number of floor-and-check pairs, with no probe run around them; peak-MB is the process's peak
// resident set during the phase (VmHWM, reset through
// /proc/self/clear_refs; 0 where that is not available), heap-MB the
// sampled peak of the heap's objects; us/obj is a phase's time per object
// of the file (the cost is per object more than per byte). One line per file is also printed
// for hack/bench.sh's table (prefix "checkfloor|"), and the growth from
// the smallest to the largest compact size ("checkfloor-growth|"), once
// every file is done: the go test runner calls a sub-benchmark again for
// each b.N, and only its last call counts.
//
//	go test -run '^$' -bench CheckVsFloor -benchtime 1x ./cli/
func BenchmarkCheckVsFloor(b *testing.B) {
	type row struct {
		nodes                                   int
		mb, objects, check, floor, cpeak, fpeak float64
		line                                    string
	}
	reps := 1
	if n, err := strconv.Atoi(os.Getenv("UPGATE_BENCH_FLOOR_REPS")); err == nil && n > 0 {
		reps = n
	}
	rows := map[string]row{}
	var labels []string
	run := func(b *testing.B, label, format string, opts synth.Options) {
		path, err := synth.CachedFile(synth.BenchDir(), format, opts)
		if err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		objects, err := listItems(path)
		if err != nil {
			b.Fatal(err)
		}
		args := []string{"upgate", "check", "--from", path, "--target", "v1.36", "--format", "json"}
		var check, floor phaseCost
		var ratios []float64
		b.ResetTimer()
		for i := 0; i < b.N*reps; i++ {
			f := measurePhase(b, func() error {
				fh, err := os.Open(path)
				if err != nil {
					return err
				}
				defer fh.Close()
				var v any
				return json.NewDecoder(fh).Decode(&v)
			})
			c := measurePhase(b, func() error {
				var errOut bytes.Buffer
				if code := Main(context.Background(), args, strings.NewReader(""), io.Discard, &errOut); code != ExitPassed && code != ExitBlocked {
					return fmt.Errorf("exit %d: %s", code, strings.TrimSpace(errOut.String()))
				}
				return nil
			})
			floor, check = floor.best(f), check.best(c)
			ratios = append(ratios, c.d.Seconds()/f.d.Seconds())
		}
		b.StopTimer()
		r := row{nodes: opts.Nodes, mb: float64(st.Size()) / 1e6, objects: float64(objects),
			check: check.d.Seconds(), floor: floor.d.Seconds(), cpeak: check.peakRSS, fpeak: floor.peakRSS}
		b.ReportMetric(r.mb, "file-MB")
		b.ReportMetric(r.objects, "objects")
		b.ReportMetric(r.check, "check-s")
		b.ReportMetric(r.floor, "floor-s")
		slices.Sort(ratios)
		ratio := ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			ratio = (ratios[len(ratios)/2-1] + ratio) / 2
		}
		b.ReportMetric(ratio, "ratio")
		b.ReportMetric(ratios[0], "ratio-lo")
		b.ReportMetric(ratios[len(ratios)-1], "ratio-hi")
		b.ReportMetric(check.peakRSS, "check-peak-MB")
		b.ReportMetric(floor.peakRSS, "floor-peak-MB")
		b.ReportMetric(check.peakHeap, "check-heap-MB")
		b.ReportMetric(floor.peakHeap, "floor-heap-MB")
		r.line = fmt.Sprintf("checkfloor|%s|%.0f|%d|%.0f|%.2f|%.2f|%.2f|%.2f-%.2f|%.1f|%.1f|%.0f|%.0f|%.0f|%.0f|%s\n", label, r.mb, objects,
			r.mb*1e6/r.objects, r.check, r.floor, ratio, ratios[0], ratios[len(ratios)-1], r.check*1e6/r.objects, r.floor*1e6/r.objects,
			check.peakRSS, floor.peakRSS, check.peakHeap, floor.peakHeap, loadAvg())
		if _, ok := rows[label]; !ok {
			labels = append(labels, label)
		}
		rows[label] = r
	}
	for _, nodes := range synth.BenchNodes() {
		b.Run(fmt.Sprintf("compact/nodes=%d", nodes), func(b *testing.B) {
			run(b, fmt.Sprintf("compact, %d nodes", nodes), synth.FormatCompact, synth.Options{Nodes: nodes})
		})
	}
	for _, nodes := range synth.BenchRealNodes() {
		b.Run(fmt.Sprintf("real/nodes=%d", nodes), func(b *testing.B) {
			run(b, fmt.Sprintf("real-shaped, %d nodes", nodes), synth.FormatAPIServer, synth.Options{Nodes: nodes, ManagedFields: true})
		})
	}
	var compact []row
	for _, l := range labels {
		fmt.Print("\n" + rows[l].line)
		if strings.HasPrefix(l, "compact") {
			compact = append(compact, rows[l])
		}
	}
	if len(compact) >= 2 {
		lo, hi := compact[0], compact[len(compact)-1]
		fmt.Printf("\ncheckfloor-growth|compact %d -> %d nodes|%.1fx data|check time %.1fx|floor time %.1fx|check peak %.1fx|floor peak %.1fx\n",
			lo.nodes, hi.nodes, hi.objects/lo.objects, hi.check/lo.check, hi.floor/lo.floor, hi.cpeak/lo.cpeak, hi.fpeak/lo.fpeak)
	}
}

// phaseCost is one phase's time and peak memory (MB).
type phaseCost struct {
	d                 time.Duration
	peakRSS, peakHeap float64
}

// best keeps the fastest run's time and the lowest peaks.
func (p phaseCost) best(q phaseCost) phaseCost {
	if p.d == 0 {
		return q
	}
	if q.d < p.d {
		p.d = q.d
	}
	p.peakRSS, p.peakHeap = min(p.peakRSS, q.peakRSS), min(p.peakHeap, q.peakHeap)
	return p
}

// measurePhase times fn, after a collection that hands the heap back to
// the OS, and samples its peak memory: the resident set's high-water mark
// (reset before) and the heap's objects every 5 ms.
func measurePhase(b *testing.B, fn func() error) phaseCost {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	var (
		peak uint64
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	return phaseCost{d: d, peakRSS: peakRSSMB(), peakHeap: float64(peak) / 1e6}
}

// resetPeakRSS resets the process's VmHWM to its resident set now
// (Linux: "5" to /proc/self/clear_refs).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB is VmHWM from /proc/self/status, in MB; 0 where unknown.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024 / 1e6
		}
	}
	return 0
}

// listItems counts a one-item-a-line List's items (synth's compact and
// apiserver formats): its lines less the List's own two.
func listItems(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n - 2, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
