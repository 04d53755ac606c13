package controllers

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/accesspolicy"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
)

// accessEntriesDesc is the gauge that alerts are written on: a count of objects,
// where the request counter only counts calls.
var accessEntriesDesc = prometheus.NewDesc("eks_access_operator_access_entries", accessEntriesHelp,
	[]string{"cluster", "region", "ready", "reason", "stalled"}, nil,
)

const accessEntriesHelp = "AccessEntries this operator instance reconciles, by EKS cluster and region, the status and reason of their Ready condition, and whether they are Stalled (a person has to act). Served by the leader only."

// timeBoundDesc counts the grants with an end: active until spec.expiresAt, or
// overdue (expired, and EKS still holds what the object made).
var timeBoundDesc = prometheus.NewDesc("eks_access_operator_time_bound_grants",
	"AccessEntries with spec.expiresAt that hold an EKS access entry, by cluster, region and state: active (before their expiry) or overdue (expired, the entry not deleted yet). Served by the leader only.",
	[]string{"cluster", "region", "state"}, nil,
)

// adminHoldersDesc counts who holds an admin-equivalent access policy, by where
// the entry comes from: an alert on origin Unmanaged finds admin access nobody
// declared.
var adminHoldersDesc = prometheus.NewDesc("eks_access_operator_admin_holders",
	"EKS access entries holding an admin-equivalent access policy (one that reaches Secrets or RBAC), by cluster, region and origin: AccessEntry (declared), EKS (made by EKS itself, such as the cluster creator's) or Unmanaged (nothing declares it). Declared ones from the AccessEntries' status, the others from each ClusterAccessConfig's last look at its cluster. Served by the leader only.",
	[]string{"cluster", "region", "origin"}, nil,
)

// Origins of the admin holders gauge (the access report's words).
const (
	OriginDeclared  = "AccessEntry"
	OriginEKS       = "EKS"
	OriginUnmanaged = "Unmanaged"
)

// HolderKey is one series of the admin holders gauge.
type HolderKey struct {
	Cluster, Region, Origin string
}

// CountAdminHolders counts the entries that hold an admin-equivalent policy: the
// AccessEntries whose status records one on the entry they hold, and the
// unmanaged entries the ClusterAccessConfigs list (not those deleted or revoked).
// Every cluster known has a series of each origin, 0 when it holds none, so
// that an alert tells "none" from "not served".
func CountAdminHolders(entries []v1.AccessEntry, configs []v1.ClusterAccessConfig) map[HolderKey]int {
	out := map[HolderKey]int{}
	known := func(cluster, region string) {
		for _, o := range []string{OriginDeclared, OriginEKS, OriginUnmanaged} {
			out[HolderKey{Cluster: cluster, Region: region, Origin: o}] += 0
		}
	}
	for i := range entries {
		st := &entries[i].Status
		if st.Identity == nil || st.AccessEntryARN == "" {
			continue
		}
		known(st.Identity.ClusterName, st.Identity.Region)
		if slices.ContainsFunc(st.AccessPolicies, func(p v1.AssociatedAccessPolicy) bool { return accesspolicy.IsAdminEquivalentARN(p.PolicyARN) }) {
			out[HolderKey{Cluster: st.Identity.ClusterName, Region: st.Identity.Region, Origin: OriginDeclared}]++
		}
	}
	for i := range configs {
		cac := &configs[i]
		region := cac.Spec.Region
		if t := cac.Status.Target; region == "" && t != nil {
			region = t.Region
		}
		known(cac.Spec.ClusterName, region)
		creators := 0
		for _, u := range cac.Status.UnmanagedEntries {
			if !u.AdminEquivalent || u.Action == guardrails.PruneDelete || u.Action == guardrails.PruneRevoked {
				continue
			}
			origin := OriginUnmanaged
			if u.MadeByEKS == guardrails.CreatorEntry {
				// EKS makes one entry for the creator: others like it were made by hand.
				creators++
			}
			if u.MadeByEKS != "" && (u.MadeByEKS != guardrails.CreatorEntry || creators == 1) {
				origin = OriginEKS
			}
			out[HolderKey{Cluster: cac.Spec.ClusterName, Region: region, Origin: origin}]++
		}
	}
	return out
}

// GrantKey is one series of the time-bound grants gauge.
type GrantKey struct {
	Cluster, Region string
	Overdue         bool
}

// CountTimeBound counts the AccessEntries with spec.expiresAt whose status
// records an entry, by where the entry is and whether it is overdue at now.
func CountTimeBound(entries []v1.AccessEntry, now time.Time) map[GrantKey]int {
	out := map[GrantKey]int{}
	for i := range entries {
		ae := &entries[i]
		if id := ae.Status.Identity; ae.Spec.ExpiresAt != nil && id != nil {
			out[GrantKey{Cluster: id.ClusterName, Region: id.Region, Overdue: ae.Spec.Expired(now)}]++
		}
	}
	return out
}

// EntryStatusKey is one series of the AccessEntry gauge.
type EntryStatusKey struct {
	Cluster, Region, Ready, Reason string
	Stalled                        bool
}

// CountEntries counts AccessEntries by cluster, region (spec.region, else the one
// recorded at creation, else defaultRegion) and the state of their conditions.
// An object not reconciled yet counts as Ready Unknown with no reason.
func CountEntries(entries []v1.AccessEntry, defaultRegion string) map[EntryStatusKey]int {
	out := map[EntryStatusKey]int{}
	for i := range entries {
		ae := &entries[i]
		k := EntryStatusKey{Cluster: ae.Spec.ClusterName, Region: ae.Spec.Region, Ready: string(metav1.ConditionUnknown)}
		if k.Region == "" && ae.Status.Identity != nil {
			k.Region = ae.Status.Identity.Region
		}
		if k.Region == "" {
			k.Region = defaultRegion
		}
		if c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady); c != nil {
			k.Ready, k.Reason = string(c.Status), c.Reason
		}
		k.Stalled = meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionStalled)
		out[k]++
	}
	return out
}

// entryCollector serves the gauge from the manager's cache at scrape time, so that
// it cannot drift from the objects. Only the leader serves it: a standby has no
// informer for AccessEntries, and two replicas would report every object twice.
type entryCollector struct {
	reader        client.Reader
	elected       <-chan struct{}
	defaultRegion string
}

// RegisterAccessEntryGauge registers eks_access_operator_access_entries with
// controller-runtime's metrics registry, read from mgr's cache.
func RegisterAccessEntryGauge(mgr ctrl.Manager, defaultRegion string) error {
	return ctrlmetrics.Registry.Register(&entryCollector{reader: mgr.GetCache(), elected: mgr.Elected(), defaultRegion: defaultRegion})
}

func (c *entryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- accessEntriesDesc
	ch <- timeBoundDesc
	ch <- adminHoldersDesc
}

func (c *entryCollector) Collect(ch chan<- prometheus.Metric) {
	select {
	case <-c.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list := &v1.AccessEntryList{}
	if err := c.reader.List(ctx, list); err != nil {
		// A scrape must not fail because the cache is not synced yet; the gauge is
		// absent for that scrape, which absent() alerts can see.
		ctrl.Log.WithName("metrics").V(1).Info("AccessEntry gauge skipped", "error", err.Error())
		return
	}
	for k, n := range CountEntries(list.Items, c.defaultRegion) {
		stalled := "false"
		if k.Stalled {
			stalled = "true"
		}
		ch <- prometheus.MustNewConstMetric(accessEntriesDesc, prometheus.GaugeValue, float64(n), k.Cluster, k.Region, k.Ready, k.Reason, stalled)
	}
	for k, n := range CountTimeBound(list.Items, time.Now()) {
		state := "active"
		if k.Overdue {
			state = "overdue"
		}
		ch <- prometheus.MustNewConstMetric(timeBoundDesc, prometheus.GaugeValue, float64(n), k.Cluster, k.Region, state)
	}
	configs := &v1.ClusterAccessConfigList{}
	if err := c.reader.List(ctx, configs); err != nil {
		ctrl.Log.WithName("metrics").V(1).Info("admin holders gauge skipped", "error", err.Error())
		return
	}
	for k, n := range CountAdminHolders(list.Items, configs.Items) {
		ch <- prometheus.MustNewConstMetric(adminHoldersDesc, prometheus.GaugeValue, float64(n), k.Cluster, k.Region, k.Origin)
	}
}
