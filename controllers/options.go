package controllers

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// The options of each component, as main.go's flags fill them. Each Default*
// function gives the flags' defaults, and each Validate names the flag that
// holds a value the component cannot work with, and the fix. No field's zero
// value means anything: a component is always built from validated options.

// CommonOptions are the settings both controllers read alike.
type CommonOptions struct {
	// DefaultRegion is used for objects without spec.region; empty: such objects
	// are refused with NoRegion.
	DefaultRegion string
	// TrustedNamespaces are honoured without guardrail rules; an AccessEntry in any
	// other namespace needs a rule of its cluster's ClusterAccessConfig.
	TrustedNamespaces []string
}

// Validate names what is wrong with the common options.
func (o CommonOptions) Validate() error {
	if len(o.TrustedNamespaces) == 0 {
		return errors.New("--trusted-namespaces names no namespace: name at least the operator's own")
	}
	return nil
}

// EntryOptions configure the AccessEntry controller.
type EntryOptions struct {
	CommonOptions
	// InstanceID goes into the ownership tags: entries tagged by another instance
	// are never touched.
	InstanceID string
	// VerifyPeriod is how often, at most, every field of an entry is read from EKS
	// (under the account's background budget); the sweeps find deletions and
	// changes to watched policies in between. 0 verifies on every pass, as the
	// flag documents.
	VerifyPeriod time.Duration
	// StallAfter is how long the operator waits on EKS (a principal IAM has not
	// propagated, a change EKS does not show) before it reports Stalled.
	StallAfter time.Duration
	// RecheckInterval is how often a condition only a person can fix (CONFIG_MAP
	// cluster, missing cluster, denied permission) is checked again.
	RecheckInterval time.Duration
	// ConsistencyWindow is how long an entry the operator created may read as
	// absent before it is taken as deleted out of band and created again.
	ConsistencyWindow time.Duration
	// PrincipalCheckInterval is how often each Ready entry's principal is looked
	// up in IAM, whatever VerifyPeriod says, to notice it was deleted or created
	// again. The check runs only when the reconciler is given Principals.
	PrincipalCheckInterval time.Duration
	// MaxConcurrentReconciles bounds the workers.
	MaxConcurrentReconciles int
	// RequireClusterConfig makes an AccessEntry without a matching
	// ClusterAccessConfig NotPermitted even in a trusted namespace.
	RequireClusterConfig bool
	// EventsVerifyPeriod replaces VerifyPeriod while EKS's events of the entry's
	// account and region arrive: verification is then a backstop for lost events.
	EventsVerifyPeriod time.Duration
}

// DefaultEntryOptions are the flags' defaults.
func DefaultEntryOptions() EntryOptions {
	return EntryOptions{
		VerifyPeriod:            time.Hour,
		StallAfter:              5 * time.Minute,
		RecheckInterval:         time.Minute,
		ConsistencyWindow:       30 * time.Second,
		PrincipalCheckInterval:  time.Hour,
		MaxConcurrentReconciles: 32,
		EventsVerifyPeriod:      24 * time.Hour,
	}
}

// Validate names the flags that hold values the controller cannot work with.
func (o EntryOptions) Validate() error {
	errs := []error{o.CommonOptions.Validate()}
	if o.InstanceID == "" {
		errs = append(errs, errors.New("--instance-id is empty: set it, or let the operator read the kube-system namespace's UID"))
	}
	if o.VerifyPeriod < 0 {
		errs = append(errs, fmt.Errorf("--verification-period is %s: it must not be negative (0 verifies on every pass; the default is 1h)", o.VerifyPeriod))
	}
	errs = append(errs,
		positive("--stall-after", o.StallAfter, "5m"),
		positive("--recheck-interval", o.RecheckInterval, "1m"),
		positive("--consistency-window", o.ConsistencyWindow, "30s"),
		positive("--principal-check-interval", o.PrincipalCheckInterval, "1h"),
		positive("--events-verification-period", o.EventsVerifyPeriod, "24h"),
		notShorter("--events-verification-period", o.EventsVerifyPeriod, "--verification-period", o.VerifyPeriod))
	if o.MaxConcurrentReconciles < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-reconciles is %d: it must be at least 1 (the default is 32)", o.MaxConcurrentReconciles))
	}
	return errors.Join(errs...)
}

// ConfigOptions configure the ClusterAccessConfig controller.
type ConfigOptions struct {
	CommonOptions
	// ResyncPeriod is how often the cluster is read again.
	ResyncPeriod time.Duration
	// PollInterval is how often an update in progress is checked, and a config
	// waiting on something else is looked at again.
	PollInterval time.Duration
	// Selector picks the ClusterAccessConfigs this instance manages (the same
	// --selector that shards AccessEntries); labels.Everything() manages them all.
	Selector labels.Selector
	// InstanceID is the AccessEntry controller's (--instance-id): pruning judges
	// the entries this instance's AccessEntries left behind, and only those; empty
	// judges none.
	InstanceID string
}

// DefaultConfigOptions are the flags' defaults.
func DefaultConfigOptions() ConfigOptions {
	return ConfigOptions{ResyncPeriod: 10 * time.Minute, PollInterval: 10 * time.Second, Selector: labels.Everything()}
}

// Validate names the flags that hold values the controller cannot work with.
func (o ConfigOptions) Validate() error {
	errs := []error{o.CommonOptions.Validate(),
		positive("--resync-period", o.ResyncPeriod, "10m"),
		positive("--cluster-poll-interval", o.PollInterval, "10s")}
	if o.Selector == nil {
		errs = append(errs, errors.New("the ClusterAccessConfig selector is unset: pass --selector, or nothing to manage every config"))
	}
	return errors.Join(errs...)
}

// SweepOptions configure the sweeps.
type SweepOptions struct {
	// Period is how often each cluster's entries are all listed.
	Period time.Duration
	// WatchedPeriod is how often the holders of the watched policies are listed.
	// A large cluster lists its holders of cluster-admin more often than all of
	// its entries: an escalation is worse than a deletion.
	WatchedPeriod time.Duration
	// WatchedPolicies are the names of the access policies whose holders each
	// sweep lists (AmazonEKSClusterAdminPolicy, say); none turns that listing off.
	WatchedPolicies []string
	// Settle is how long after its last verification an entry is left out of a
	// sweep: EKS may list a new entry or association only seconds later.
	Settle time.Duration
	// EventsPeriod and EventsWatchedPeriod replace Period and WatchedPeriod while
	// EKS's events of the cluster's account and region arrive: the sweeps are then
	// only a backstop for lost events.
	EventsPeriod, EventsWatchedPeriod time.Duration
}

// DefaultSweepOptions are the flags' defaults.
func DefaultSweepOptions() SweepOptions {
	return SweepOptions{Period: 50 * time.Second, WatchedPeriod: 50 * time.Second,
		WatchedPolicies: []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"}, Settle: 30 * time.Second,
		EventsPeriod: 15 * time.Minute, EventsWatchedPeriod: 10 * time.Minute}
}

// Validate names the flags that hold values the sweeps cannot work with.
func (o SweepOptions) Validate() error {
	return errors.Join(
		positive("--sweep-period", o.Period, "50s"),
		positive("--watched-sweep-period", o.WatchedPeriod, "--sweep-period"),
		positive("--consistency-window", o.Settle, "30s"),
		positive("--events-sweep-period", o.EventsPeriod, "15m"),
		positive("--events-watched-sweep-period", o.EventsWatchedPeriod, "10m"),
		notShorter("--events-sweep-period", o.EventsPeriod, "--sweep-period", o.Period),
		notShorter("--events-watched-sweep-period", o.EventsWatchedPeriod, "--watched-sweep-period", o.WatchedPeriod))
}

// notShorter is an error naming an events period shorter than the period it
// replaces while events arrive: events make the backstop run less often, never
// more (a period set when events do not yet flow would outlast it).
func notShorter(flag string, d time.Duration, base string, b time.Duration) error {
	if d <= 0 || d >= b {
		return nil
	}
	return fmt.Errorf("%s is %s, shorter than %s (%s): while events arrive the backstop runs less often, never more; set it to %s or more, or shorten %s", flag, d, base, b, b, base)
}

// positive is an error naming flag when d is not above zero.
func positive(flag string, d time.Duration, def string) error {
	if d > 0 {
		return nil
	}
	return fmt.Errorf("%s is %s: it must be above 0 (the default is %s)", flag, d, def)
}
