// Command profile runs one upgate command in-process under the Go
// profilers, to see where a whole run's time and memory go:
//
//	go run ./hack/profile -cpuprofile cpu.out -memprofile mem.out -- check --from big.json --target v1.36 --format json
//	go tool pprof -top cpu.out
//
// It prints the command's wall time and allocations on stderr; the
// command's own output and exit code are kept.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/upgate-dev/upgate/cli"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to this file")
	mem := flag.String("memprofile", "", "write a heap profile (allocations) to this file at the end")
	flag.Parse()
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			os.Exit(2)
		}
	}
	start := time.Now()
	code := cli.Main(context.Background(), append([]string{"upgate"}, flag.Args()...), os.Stdin, os.Stdout, os.Stderr)
	wall := time.Since(start)
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err == nil {
			runtime.GC()
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "profile: %s, exit %d, %.0f MB allocated in all, heap peak ~%.0f MB (HeapSys)\n",
		wall.Round(time.Millisecond), code, float64(ms.TotalAlloc)/1e6, float64(ms.HeapSys)/1e6)
	os.Exit(code)
}
