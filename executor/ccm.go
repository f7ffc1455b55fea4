package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/kubever"
)

// CloudControllerSelector selects the cloud-controller-manager: the
// kube-system pods (and, for the kwok driver, the Deployments and
// DaemonSets) labelled so, as the contract's roles say.
const CloudControllerSelector = "component=" + inventory.ComponentCloudController

// ccmPod is a cloud-controller-manager pod and the version of its image
// (nil when the tag is no version: latest, a digest).
type ccmPod struct {
	name    string
	tag     string
	version *version.Version
}

func (p ccmPod) String() string {
	if p.version != nil {
		return "kube-system/" + p.name + " at " + kubever.Canonical(p.version)
	}
	if p.tag == "" {
		return "kube-system/" + p.name + " (no image tag)"
	}
	return "kube-system/" + p.name + " at " + p.tag + " (not a version)"
}

// cloudControllerPods lists the cloud-controller-manager pods, by name,
// with the version of their cloud-controller-manager container (else the
// first), as the policies read it. Pods on their way out (a rollout's old
// ones) are listed too: the policies see them until they are gone.
func cloudControllerPods(ctx context.Context, client kubernetes.Interface) ([]ccmPod, error) {
	pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: CloudControllerSelector})
	if err != nil {
		return nil, fmt.Errorf("list the cloud-controller-manager pods (kube-system, %s): %w", CloudControllerSelector, err)
	}
	var out []ccmPod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		tag, v, ok := kubever.FromImage(inventory.ComponentImage(inventory.PodOf(p), inventory.ComponentCloudController))
		if !ok {
			v = nil
		}
		out = append(out, ccmPod{name: p.Name, tag: tag, version: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// ccmBehind returns the pods not known to be at or past t: behind it, or
// at a tag that is no version (only the driver can tell).
func ccmBehind(pods []ccmPod, t Target) []ccmPod {
	var out []ccmPod
	for _, p := range pods {
		if p.version == nil || !atOrPast(p.version, t) {
			out = append(out, p)
		}
	}
	return out
}

func describePods(pods []ccmPod) string {
	parts := make([]string, len(pods))
	for i, p := range pods {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// StageRecord is a stage of a hop that is about no node (the
// cloud-controller-manager stage): when it ran, how it went (ok, skipped,
// failed, blocked, interrupted) and what it did.
type StageRecord struct {
	Hop     string    `json:"hop"`
	Stage   StageName `json:"stage"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Result  string    `json:"result"`
	Message string    `json:"message,omitempty"`
}

// StepSkipped: the stage had nothing to do.
const StepSkipped = "skipped"

// runCloudController is the hop's cloud-controller-manager stage, after
// the control plane reports the hop's version and before any worker of
// the hop. With no cloud-controller-manager pod in kube-system it has
// nothing to do and says so. When every one is already at or past the
// hop's version (a resumed run whose stage had finished) the driver is not
// called again. Otherwise the driver moves it to the hop's version. Then,
// whatever the driver did, no worker starts while CloudControllerGate
// returns findings: the run looks again every PollInterval for up to
// CloudControllerTimeout, then stops resumably (ErrBlocked) naming them.
func (r *Runner) runCloudController(ctx context.Context, ref HopRef, ht Target, res *Result) (err error) {
	rec := StageRecord{Hop: ht.Label, Stage: StageCloudCtrl, Start: r.Now().UTC()}
	var result, msg string
	defer func() {
		rec.End, rec.Result, rec.Message = r.Now().UTC(), result, oneLine(msg)
		if err != nil {
			rec.Result, rec.Message = StepFailed, oneLine(err.Error())
			switch {
			case r.stopped(ctx) != nil:
				rec.Result = StepInterrupted
			case errors.Is(err, ErrBlocked):
				rec.Result = StepBlocked
			}
		}
		res.Stages = append(res.Stages, rec)
	}()
	say := func(format string, a ...any) { r.printf("[%s] %s\n", StageCloudCtrl, fmt.Sprintf(format, a...)) }
	r.enterStage(ht, StageCloudCtrl)

	pods, err := cloudControllerPods(ctx, r.Client)
	if err != nil {
		if serr := r.stopped(ctx); serr != nil {
			return fmt.Errorf("%w: %s: before the cloud-controller-manager stage: %v", serr, ref, err)
		}
		return fmt.Errorf("%w: %s: %v; no worker of the hop was touched: `upgate run` again resumes the hop", ErrCloudControllerFailed, ref, err)
	}
	if len(pods) == 0 {
		result, msg = StepSkipped, "no cloud-controller-manager in the cluster (no kube-system pod labelled "+CloudControllerSelector+"): nothing to do"
		say("%s", msg)
		return nil
	}
	behind := ccmBehind(pods, ht)
	switch cu, ok := r.Driver.(CloudControllerUpgrader); {
	case len(behind) == 0:
		result, msg = StepSkipped, fmt.Sprintf("already at or past %s (%s): nothing to do", ht.Label, describePods(pods))
		say("%s", msg)
	case ok:
		say("upgrading %s to %s through the driver", describePods(behind), ht.Label)
		err := r.callDriver(ctx, StageCloudCtrl, func(ctx context.Context) error { return cu.UpgradeCloudController(ctx, ht.Label) })
		if serr := r.stopped(ctx); err != nil && serr != nil {
			return fmt.Errorf("%w: %s: before the cloud-controller-manager stage finished, no worker of the hop was touched: %v", serr, ref, err)
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v; no worker of the hop was touched: fix the cause, then `upgate run` again resumes the hop", ErrCloudControllerFailed, ref, err)
		}
		result, msg = StepOK, fmt.Sprintf("the driver moved %s to %s", describePods(behind), ht.Label)
	default:
		say("not handled by the driver: upgrade %s to %s with your provider's tooling; the workers wait for it", describePods(behind), ht.Label)
		result, msg = StepOK, fmt.Sprintf("left to the operator: %s to %s", describePods(behind), ht.Label)
	}
	return r.waitCloudController(ctx, ref, ht)
}

// waitCloudController waits, looking every PollInterval for up to
// CloudControllerTimeout, until CloudControllerGate returns no finding.
func (r *Runner) waitCloudController(parent context.Context, ref HopRef, t Target) error {
	if r.CloudControllerGate == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(parent, r.CloudControllerTimeout)
	defer cancel()
	var last string
	// The workers waiting for the check is a pause (PauseGate).
	var resume func()
	defer func() {
		if resume != nil {
			resume()
		}
	}()
	for {
		fs, err := r.CloudControllerGate(ctx)
		switch {
		case err != nil && parent.Err() == nil && ctx.Err() == nil:
			last = "the check could not be evaluated: " + oneLine(err.Error())
		case err == nil && len(fs) == 0:
			r.printf("[%s] the cloud-controller-manager is at %s: the workers may start\n", StageCloudCtrl, t.Label)
			return nil
		case err == nil:
			last = describeFindings(fs)
		}
		if resume == nil {
			resume = r.pause(PauseGate)
		}
		select {
		case <-ctx.Done():
			if serr := r.stopped(parent); serr != nil {
				return fmt.Errorf("%w: %s: interrupted while waiting for the cloud-controller-manager to reach %s; no worker of the hop was touched", serr, ref, t.Label)
			}
			return fmt.Errorf("%w: %s: the cloud-controller-manager did not reach %s within %s (%s); no worker of the hop was touched: once it is there, `upgate run` again resumes the hop",
				ErrBlocked, ref, t.Label, r.CloudControllerTimeout, last)
		case <-time.After(r.PollInterval):
		}
	}
}

// dryRunCloudController says what the stage would do, changing nothing.
func (r *Runner) dryRunCloudController(ctx context.Context, ref HopRef, ht Target) {
	pods, err := cloudControllerPods(ctx, r.Client)
	var what string
	switch {
	case err != nil:
		what = "cannot tell what it would do: " + oneLine(err.Error())
	case len(pods) == 0:
		what = "nothing to do: no kube-system pod labelled " + CloudControllerSelector
	case len(ccmBehind(pods, ht)) == 0:
		what = "nothing to do: already at or past " + ht.Label + " (" + describePods(pods) + ")"
	default:
		what = fmt.Sprintf("would upgrade %s to %s through the driver, then wait until addon.ccm-behind-target no longer fires before any worker", describePods(ccmBehind(pods, ht)), ht.Label)
	}
	r.printf("[%s] %s: %s\n", ref, StageCloudCtrl, what)
}
