package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/upgate-dev/upgate/inventory"
	"github.com/upgate-dev/upgate/policies"
)

// EnvPrefix is the prefix of environment variables that set flags:
// --ignore-safety-checks is UPGATE_IGNORE_SAFETY_CHECKS.
const EnvPrefix = "UPGATE"

// Config is every setting a command reads, bound to its flags, to UPGATE_*
// environment variables and to the --config YAML file, in that order of
// precedence. Keys in the file are the flag names.
type Config struct {
	Target        string
	From          []string
	ServerVersion string
	Phase         string
	Baseline      string
	Format        string
	Output        string
	PolicyDirs    []string
	// PolicyBundle is an OPA bundle of extra policies: a file, a
	// directory or a bundle service's URL; PolicyBundleKey the file of
	// the key that verifies it, with its algorithm and the scope its
	// signature must claim.
	PolicyBundle       string
	PolicyBundleKey    string
	PolicyBundleKeyAlg string
	PolicyBundleScope  string
	SignKey            string
	Timeout            time.Duration
	// MaxInputSize bounds the bytes --from (and --baseline) may read, all
	// inputs together.
	MaxInputSize int64

	IgnoreSafetyChecks bool
	EmbedSnapshot      bool
	// NodeStats reads each node's kubelet stats summary (root filesystem
	// free bytes, for health.node-disk-free) through the node proxy; run
	// does by default, check, plan and snapshot when asked.
	NodeStats bool
	// Exceptions come from the config file only: they need selectors.
	Exceptions []policies.Exception
	// RoleSelectors override how node roles are derived (config file
	// only, key roles: controlPlane, etcd, ingress, storage, each a label
	// selector as kubectl -l takes it).
	RoleSelectors inventory.RoleSelectors

	// Executor settings.
	DryRun         bool
	Mode           string
	PartialOK      bool
	MaxUnavailable int
	Driver         string
	DriverCommand  string
	// The job driver's Jobs: image, command (/bin/sh -c; empty: the
	// image's entrypoint), namespace (empty: LockNamespace) and
	// ServiceAccount.
	JobImage          string
	JobCommand        string
	JobNamespace      string
	JobServiceAccount string
	DrainTimeout      time.Duration
	ReadyTimeout      time.Duration
	DriverTimeout     time.Duration
	GateWait          time.Duration
	LockNamespace     string
	// OnDrainTimeout: abort, skip or quarantine a worker whose drain timed out.
	OnDrainTimeout string
	// Yes answers run's confirmation (needed without a terminal).
	Yes bool
	// ControlPlaneTimeout bounds each hop's wait for the control plane.
	ControlPlaneTimeout time.Duration
	// APIRetryTimeout bounds how long one of run's API calls keeps
	// retrying while the API server is away (0: no retries).
	APIRetryTimeout time.Duration
	// LockLeaseDuration is the executor Lease's duration (0: the default).
	LockLeaseDuration time.Duration
	// CCMTimeout bounds each hop's wait for the cloud-controller-manager.
	CCMTimeout time.Duration
	// EtcdEndpoints, when set, make run take its own etcd snapshot in
	// each hop's etcd-backup stage, with the TLS files EtcdCACert,
	// EtcdCert and EtcdKey, into EtcdBackupDir.
	EtcdEndpoints []string
	EtcdCACert    string
	EtcdCert      string
	EtcdKey       string
	EtcdBackupDir string
	// MetricsBindAddress, when set, is where run serves its rollout
	// metrics (/metrics) while it runs.
	MetricsBindAddress string
	// AlertURL, when set, is the Prometheus (/api/v1/alerts) or
	// Alertmanager (/api/v2/alerts) API run's alert gate reads; alerts
	// whose name AlertFilter matches do not block; AlertWait is how long
	// the run stays paused for them before it stops.
	AlertURL    string
	AlertFilter string
	AlertWait   time.Duration
	// GateQueries are run's query gates, NAME=PROMQL each, evaluated at
	// PrometheusURL (the base URL); GateQueryWait is how long the run
	// stays paused while one does not pass before it stops.
	GateQueries   []string
	PrometheusURL string
	GateQueryWait time.Duration

	// Service settings.
	Listen              string
	Interval            time.Duration
	CheckTimeout        time.Duration
	StaleAfterIntervals int
	// Debounce is serve's quiet period after a change in the watched
	// cluster before it checks again (0: the interval only); DebounceMax
	// bounds the wait in a cluster that keeps changing.
	Debounce    time.Duration
	DebounceMax time.Duration
}

// configFileOnly are keys the file may hold that no flag sets.
var configFileOnly = []string{"exceptions", "roles"}

// loadConfig resolves cmd's flags with the environment and the config file.
// A flag the user set wins; then UPGATE_<FLAG>; then the file; then the
// flag's default.
func loadConfig(cmd *cobra.Command, configFile string) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err := v.BindPFlag(f.Name, f); err != nil && bindErr == nil {
			bindErr = err
		}
	})
	if bindErr != nil {
		return nil, bindErr
	}
	if configFile != "" {
		v.SetConfigFile(configFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, usageErrorf("config file %s: %s", configFile, oneLine(err))
		}
		if err := checkKeys(cmd, v, configFile); err != nil {
			return nil, err
		}
	}
	c := &Config{
		Target:             v.GetString("target"),
		From:               stringSlice(v, "from"),
		ServerVersion:      v.GetString("server-version"),
		Phase:              v.GetString("phase"),
		Baseline:           v.GetString("baseline"),
		Format:             v.GetString("format"),
		Output:             v.GetString("output"),
		PolicyDirs:         stringSlice(v, "policy-dir"),
		PolicyBundle:       v.GetString("policy-bundle"),
		PolicyBundleKey:    v.GetString("policy-bundle-key"),
		PolicyBundleKeyAlg: v.GetString("policy-bundle-key-alg"),
		PolicyBundleScope:  v.GetString("policy-bundle-scope"),
		SignKey:            v.GetString("sign-key"),
		IgnoreSafetyChecks: v.GetBool("ignore-safety-checks"),
		EmbedSnapshot:      v.GetBool("embed-snapshot"),
		NodeStats:          v.GetBool("node-stats"),
		DryRun:             v.GetBool("dry-run"),
		Mode:               v.GetString("mode"),
		PartialOK:          v.GetBool("partial-ok"),
		MaxUnavailable:     v.GetInt("max-unavailable"),
		Driver:             v.GetString("driver"),
		DriverCommand:      v.GetString("driver-command"),
		JobImage:           v.GetString("job-image"),
		JobCommand:         v.GetString("job-command"),
		JobNamespace:       v.GetString("job-namespace"),
		JobServiceAccount:  v.GetString("job-service-account"),
		LockNamespace:      v.GetString("lock-namespace"),
		OnDrainTimeout:     v.GetString("on-drain-timeout"),
		Yes:                v.GetBool("yes"),
		Listen:             v.GetString("listen"),
		EtcdEndpoints:      stringSlice(v, "etcd-endpoints"),
		EtcdCACert:         v.GetString("etcd-cacert"),
		EtcdCert:           v.GetString("etcd-cert"),
		EtcdKey:            v.GetString("etcd-key"),
		EtcdBackupDir:      v.GetString("etcd-backup-dir"),
		MetricsBindAddress: v.GetString("metrics-bind-address"),
		AlertURL:           v.GetString("alert-url"),
		AlertFilter:        v.GetString("alert-filter"),
		GateQueries:        stringList(cmd, v, "gate-query"),
		PrometheusURL:      v.GetString("prometheus-url"),
	}
	c.StaleAfterIntervals = v.GetInt("stale-after-intervals")
	var err error
	if c.Timeout, err = duration(v, "timeout"); err != nil {
		return nil, err
	}
	if c.MaxInputSize, err = size(v, "max-input-size"); err != nil {
		return nil, err
	}
	for key, d := range map[string]*time.Duration{
		"interval": &c.Interval, "drain-timeout": &c.DrainTimeout,
		"ready-timeout": &c.ReadyTimeout, "gate-wait": &c.GateWait,
		"control-plane-timeout": &c.ControlPlaneTimeout,
		"ccm-timeout":           &c.CCMTimeout,
		"driver-timeout":        &c.DriverTimeout,
		"check-timeout":         &c.CheckTimeout,
		"debounce":              &c.Debounce,
		"debounce-max":          &c.DebounceMax,
		"api-retry-timeout":     &c.APIRetryTimeout,
		"lock-lease-duration":   &c.LockLeaseDuration,
		"alert-wait":            &c.AlertWait,
		"gate-query-wait":       &c.GateQueryWait,
	} {
		if *d, err = duration(v, key); err != nil {
			return nil, err
		}
	}
	if v.IsSet("roles") {
		var r struct {
			ControlPlane string `mapstructure:"controlPlane"`
			Etcd         string `mapstructure:"etcd"`
			Ingress      string `mapstructure:"ingress"`
			Storage      string `mapstructure:"storage"`
		}
		// A misspelt role must not silently keep the default rule.
		if err := v.UnmarshalKey("roles", &r, func(c *mapstructure.DecoderConfig) { c.ErrorUnused = true }); err != nil {
			return nil, usageErrorf("config file %s: roles: %s (keys: controlPlane, etcd, ingress, storage)", configFile, oneLine(err))
		}
		if c.RoleSelectors, err = inventory.ParseRoleSelectors(r.ControlPlane, r.Etcd, r.Ingress, r.Storage); err != nil {
			return nil, usageErrorf("config file %s: %s", configFile, oneLine(err))
		}
	}
	if v.IsSet("exceptions") {
		if err := v.UnmarshalKey("exceptions", &c.Exceptions); err != nil {
			return nil, usageErrorf("config file %s: exceptions: %s", configFile, oneLine(err))
		}
		for i, e := range c.Exceptions {
			if err := e.Validate(); err != nil {
				return nil, usageErrorf("config file %s: exceptions[%d]: %s", configFile, i, oneLine(err))
			}
		}
	}
	return c, nil
}

// checkKeys rejects file keys that neither a flag of this command nor a
// file-only setting knows, so a typo cannot silently disable a setting.
// Keys of other commands' flags are allowed: one file serves every command.
func checkKeys(cmd *cobra.Command, v *viper.Viper, file string) error {
	known := map[string]bool{}
	for _, k := range configFileOnly {
		known[k] = true
	}
	for _, c := range cmd.Root().Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
	}
	cmd.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
	var unknown []string
	for _, k := range v.AllKeys() {
		top := strings.SplitN(k, ".", 2)[0]
		if !known[top] {
			unknown = append(unknown, top)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return usageErrorf("config file %s: unknown setting %q (settings are the flag names, plus exceptions)", file, unknown[0])
	}
	return nil
}

// stringSlice reads a repeatable flag; from the environment a value may
// list several items separated by commas.
func stringSlice(v *viper.Viper, key string) []string {
	var out []string
	for _, s := range v.GetStringSlice(key) {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// stringList reads a repeatable flag whose values may hold commas and
// spaces (PromQL): each flag, each item of a config file's list, or the
// environment's whole value is one item.
func stringList(cmd *cobra.Command, v *viper.Viper, key string) []string {
	if f := cmd.Flags().Lookup(key); f != nil && f.Changed {
		if vs, err := cmd.Flags().GetStringArray(key); err == nil {
			return vs
		}
	}
	switch x := v.Get(key).(type) {
	case string:
		if strings.TrimSpace(x) != "" {
			return []string{x}
		}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func duration(v *viper.Viper, key string) (time.Duration, error) {
	// GetString falls back to the flag's default, which IsSet ignores.
	s := v.GetString(key)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, usageErrorf("--%s: %q is not a duration (for example 30s or 5m)", key, s)
	}
	if d < 0 {
		return 0, usageErrorf("--%s must not be negative", key)
	}
	return d, nil
}

// size reads a byte count written as a Kubernetes quantity: 4Gi, 500Mi,
// 1G or plain bytes. Unset (a command without the flag) is zero.
func size(v *viper.Viper, key string) (int64, error) {
	s := v.GetString(key)
	if s == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, usageErrorf("--%s: %q is not a size (for example 4Gi, 500Mi or 1000000)", key, s)
	}
	n, ok := q.AsInt64()
	if !ok || n <= 0 {
		return 0, usageErrorf("--%s: %q must be a positive whole number of bytes (for example 4Gi)", key, s)
	}
	return n, nil
}

var errNoTarget = errors.New("--target is required (for example --target v1.36)")

func requireTarget(c *Config) error {
	if c.Target == "" {
		return usageError(errNoTarget)
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(fmt.Sprint(err)), " ")
}
