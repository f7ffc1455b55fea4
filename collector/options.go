package collector

import (
	"errors"
	"fmt"
)

// validate rejects negative settings: a negative page size or timeout has
// no sensible meaning, and silently replacing it would hide a typo.
func (o Options) validate() error {
	var errs []error
	if o.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d is negative", o.Concurrency))
	}
	if o.PageSize < 0 {
		errs = append(errs, fmt.Errorf("page size %d is negative", o.PageSize))
	}
	if o.NodeStatsConcurrency < 0 {
		errs = append(errs, fmt.Errorf("node stats concurrency %d is negative", o.NodeStatsConcurrency))
	}
	if o.NodeStatsTimeout < 0 {
		errs = append(errs, fmt.Errorf("node stats timeout %s is negative", o.NodeStatsTimeout))
	}
	if o.SyncTimeout < 0 {
		errs = append(errs, fmt.Errorf("sync timeout %s is negative", o.SyncTimeout))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", o.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("collector options: %w", err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.PageSize <= 0 {
		o.PageSize = defaultPageSize
	}
	if o.NodeStatsConcurrency <= 0 {
		o.NodeStatsConcurrency = defaultNodeStatsConcurrency
	}
	if o.NodeStatsTimeout <= 0 {
		o.NodeStatsTimeout = defaultNodeStatsTimeout
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = defaultSyncTimeout
	}
	return o
}
