// Command vulncheck runs govulncheck and fails on every vulnerability our
// code calls, except those listed, each with its reason, in an
// accepted-risk file. govulncheck has no ignore list of its own; this is
// the smallest one that stays honest:
//
//   - every accepted vulnerability is printed, with its reason, every run;
//   - an accepted ID that govulncheck no longer reports as called fails the
//     check, so the list cannot rot into blanket exceptions;
//   - anything else called fails, and so does a govulncheck that fails or
//     whose output is not a complete JSON stream.
//
// `make vulncheck` runs it as
//
//	go run ./hack/vulncheck -govulncheck ~/.cache/upgate/tools/govulncheck \
//	    -db file://$HOME/.cache/upgate/tools/vulndb -accepted hack/vulncheck-accepted.txt ./...
//
// and `-input FILE` decides on a saved `govulncheck -format json` stream
// instead of running govulncheck. Exit 0: pass; 1: vulnerabilities to fix
// or stale exceptions; 2: bad usage, bad accepted file, govulncheck failed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vulncheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		govulncheck = fs.String("govulncheck", "govulncheck", "the govulncheck binary")
		db          = fs.String("db", "", "vulnerability database URL passed to govulncheck -db (default: its own)")
		acceptedF   = fs.String("accepted", "hack/vulncheck-accepted.txt", "accepted-risk file: one `ID  reason` a line")
		input       = fs.String("input", "", "decide on this saved govulncheck -format json output instead of running govulncheck")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vulncheck: "+format+"\n", a...)
		return 2
	}

	af, err := os.Open(*acceptedF)
	if err != nil {
		return fail("%v", err)
	}
	accepted, err := ParseAccepted(af)
	af.Close()
	if err != nil {
		return fail("%s: %v", *acceptedF, err)
	}

	var scan *Scan
	if *input != "" {
		f, err := os.Open(*input)
		if err != nil {
			return fail("%v", err)
		}
		scan, err = ParseScan(f)
		f.Close()
		if err != nil {
			return fail("%s: %v", *input, err)
		}
	} else {
		patterns := fs.Args()
		if len(patterns) == 0 {
			patterns = []string{"./..."}
		}
		gargs := []string{"-format", "json"}
		if *db != "" {
			gargs = append(gargs, "-db", *db)
		}
		gargs = append(gargs, patterns...)
		// govulncheck writes its JSON to stdout (parsed as it streams)
		// and its errors to stderr, which we keep to print on failure.
		var errBuf bytes.Buffer
		cmd := exec.Command(*govulncheck, gargs...)
		cmd.Stderr = &errBuf
		out, err := cmd.StdoutPipe()
		if err != nil {
			return fail("%v", err)
		}
		if err := cmd.Start(); err != nil {
			return fail("running govulncheck: %v", err)
		}
		scan, err = ParseScan(out)
		// Drain what is left, so govulncheck never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, out)
		werr := cmd.Wait()
		if werr != nil {
			stderr.Write(errBuf.Bytes())
			return fail("%s %v: %v", *govulncheck, gargs, werr)
		}
		if err != nil {
			stderr.Write(errBuf.Bytes())
			return fail("%v", err)
		}
	}

	d := Decide(scan, accepted)
	d.Print(stdout, scan, *acceptedF)
	if !d.OK() {
		return 1
	}
	return 0
}
