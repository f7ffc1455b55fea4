//go:build e2e

// Package e2e runs upgate against a real local control plane (etcd,
// kube-apiserver, controller-manager, scheduler built from the Go module
// proxy) with kwok nodes, started by hack/cluster.sh. Run it with
// `make e2e`; it stops every process it started, also on failure or Ctrl-C.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var (
	repoRoot   string
	kubeconfig string
	upgateBin  string
)

// clusterName keeps the suite's cluster apart from a demo cluster.
const clusterName = "upgate-e2e"

// target is the upgrade the suite checks: the server runs v1.36.3, its
// seeded kubelets v1.35.2, and one old kubelet v1.31.0.
const target = "v1.37"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	// UPGATE_E2E_CLUSTER names another cluster, so that the suite and a
	// soak can run side by side.
	name := clusterName
	if n := os.Getenv("UPGATE_E2E_CLUSTER"); n != "" {
		name = n
	}
	os.Setenv("UPGATE_CLUSTER", name)
	if upgateBin = os.Getenv("UPGATE_BIN"); upgateBin == "" {
		upgateBin = filepath.Join(os.TempDir(), "upgate-e2e-bin")
		if out, err := exec.Command("go", "build", "-o", upgateBin, "../cmd/upgate").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build upgate: %v\n%s", err, out)
			return 1
		}
	}
	// Tear down on Ctrl-C too: a signal would otherwise skip the deferred down.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		clusterDown()
		os.Exit(130)
	}()
	defer clusterDown()
	out, err := cluster("up")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster up: %v\n%s", err, out)
		return 1
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kubeconfig = lines[len(lines)-1]
	if out, err := cluster("seed-hazards"); err != nil {
		fmt.Fprintf(os.Stderr, "seed hazards: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func cluster(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	return stdout.String(), err
}

func clusterDown() {
	if out, err := cluster("down"); err != nil {
		fmt.Fprintf(os.Stderr, "cluster down: %v\n%s", err, out)
	}
}

// kubectl runs the cached kubectl (the machine's own is outside the skew
// window of the test server) against the suite's cluster.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "cluster.sh"), append([]string{"kubectl"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// upgate runs the binary and returns its exit code, stdout and stderr.
func upgate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(upgateBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run upgate %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

// cacheDir is where hack/ keeps built binaries (UPGATE_CACHE).
func cacheDir() string {
	if d := os.Getenv("UPGATE_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "upgate")
}
