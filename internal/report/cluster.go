package report

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/accesspolicy"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// clusterRead is the reading of one cluster.
type clusterRead struct {
	c   Cluster
	eks awsapi.EKS
	o   Options
	now time.Time
	// holding are the objects whose status says they hold the principal's entry.
	holding map[string]*v1.AccessEntry
	// facts is DescribeCluster's answer, read when first needed.
	facts *awsapi.ClusterFacts
	// creators are the entries that look like the one EKS made for the creator.
	creators []creatorCandidate
	rows     []Row
	notes    []string
}

func readCluster(ctx context.Context, r *awsapi.Reader, c Cluster, declared []*v1.AccessEntry, o Options) ([]Row, []string, error) {
	cr := &clusterRead{c: c, eks: r.For(c.Target, c.Account), o: o, now: o.Now(), holding: map[string]*v1.AccessEntry{}}
	for _, ae := range declared {
		switch {
		case holds(ae):
			cr.holding[ae.Status.Identity.PrincipalARN] = ae
		case !ae.Spec.Expired(cr.now):
			// An expired grant that holds nothing is history, not access.
			cr.rows = append(cr.rows, cr.specRows(ae, Pending, pendingWhy(ae))...)
		}
	}
	var err error
	if o.Live {
		err = cr.live(ctx)
	} else {
		err = cr.cheap(ctx)
	}
	cr.resolveCreator()
	cr.markOverdue()
	return cr.rows, cr.notes, err
}

// holds reports whether an object's status says it holds its entry in EKS.
func holds(ae *v1.AccessEntry) bool {
	return ae.Status.Identity != nil && ae.Status.AccessEntryARN != "" && ae.Status.Identity.PrincipalARN != ""
}

// cheap lists the holders of each admin-equivalent policy, takes every other
// declared entry from its object's status when that is fresh and agrees with the
// listings, reads the rest, and lists the other unmanaged entries from the
// ClusterAccessConfig's status.
func (cr *clusterRead) cheap(ctx context.Context) error {
	holders, err := cr.adminHolders(ctx)
	if err != nil {
		return err
	}
	for _, principal := range slices.Sorted(maps.Keys(cr.holding)) {
		ae := cr.holding[principal]
		if cr.statusStands(ae, holders[principal]) {
			cr.rows = append(cr.rows, cr.statusRows(ae)...)
			continue
		}
		if err := cr.readDeclared(ctx, ae); err != nil {
			return err
		}
	}
	for _, principal := range slices.Sorted(maps.Keys(holders)) {
		if cr.holding[principal] != nil {
			continue
		}
		if err := cr.readUndeclared(ctx, principal); err != nil {
			return err
		}
	}
	cr.configRows(holders)
	return nil
}

// adminHolders lists, for each admin-equivalent policy, the principals holding
// it: principal -> the policies' ARNs.
func (cr *clusterRead) adminHolders(ctx context.Context) (map[string][]string, error) {
	holders := map[string][]string{}
	partition := awsarn.PartitionOfRegion(cr.c.Region)
	for _, name := range accesspolicy.AdminEquivalent() {
		arn := awsarn.PolicyARN(partition, name)
		principals, err := cr.eks.ListHolders(ctx, cr.c.Name, arn)
		if awsapi.Classify(err) == awsapi.InvalidSpec {
			// A policy this partition or region does not offer yet.
			cr.notes = append(cr.notes, fmt.Sprintf("cluster %s (%s): EKS refused to list the holders of %s: %v", cr.c.Name, cr.c.Region, name, err))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing the holders of %s: %w", name, err)
		}
		for _, p := range principals {
			holders[p] = append(holders[p], arn)
		}
	}
	return holders, nil
}

// statusStands says whether an object's status can stand in for EKS: verified
// within MaxAge, of its current generation, Ready, and holding exactly the
// admin-equivalent policies EKS lists it under, each at cluster scope. The
// listings do not show scopes: an admin-equivalent policy the status records
// at a namespace scope could have been widened since, so it is read.
func (cr *clusterRead) statusStands(ae *v1.AccessEntry, listed []string) bool {
	st := &ae.Status
	if st.LastVerifiedAt == nil || cr.now.Sub(st.LastVerifiedAt.Time) > cr.o.MaxAge || st.ObservedGeneration != ae.Generation ||
		!meta.IsStatusConditionTrue(st.Conditions, v1.ConditionReady) {
		return false
	}
	var recorded []string
	for _, p := range st.AccessPolicies {
		if !accesspolicy.IsAdminEquivalentARN(p.PolicyARN) {
			continue
		}
		if p.AccessScope.Type != v1.AccessScopeCluster {
			return false
		}
		recorded = append(recorded, p.PolicyARN)
	}
	slices.Sort(recorded)
	return slices.Equal(recorded, plan.Sorted(listed))
}

// live lists every entry of the cluster and reads each one.
func (cr *clusterRead) live(ctx context.Context) error {
	principals, err := cr.eks.ListHolders(ctx, cr.c.Name, "")
	if err != nil {
		return fmt.Errorf("listing the access entries: %w", err)
	}
	slices.Sort(principals)
	for _, p := range principals {
		if ae := cr.holding[p]; ae != nil {
			err = cr.readDeclared(ctx, ae)
		} else {
			err = cr.readUndeclared(ctx, p)
		}
		if err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(cr.holding)) {
		if _, listed := slices.BinarySearch(principals, p); !listed {
			cr.rows = append(cr.rows, cr.specRows(cr.holding[p], Drifted, "EKS lists no entry for the principal: it was deleted out of band")...)
		}
	}
	return nil
}

// readDeclared reads the entry an object holds and compares it with the spec.
func (cr *clusterRead) readDeclared(ctx context.Context, ae *v1.AccessEntry) error {
	id := *ae.Status.Identity
	obs, err := cr.eks.Observe(ctx, id, len(ae.Spec.AccessPolicies) > 0)
	if err != nil {
		return fmt.Errorf("reading the entry of %s: %w", id.PrincipalARN, err)
	}
	if obs == nil {
		cr.rows = append(cr.rows, cr.specRows(ae, Drifted, "EKS holds no entry for the principal: it was deleted out of band")...)
		return nil
	}
	owner, _ := ownership.Of(obs.Tags)
	p := plan.Compute(plan.DesiredFor(ae, id, owner.Instance), *obs, ae.Status.ManagedTags)
	matches, drift := Matches, ""
	if !p.Empty() {
		matches, drift = Drifted, describePlan(p, obs)
	}
	for _, row := range cr.observedRows(id.PrincipalARN, obs) {
		row.Origin, row.Object, row.Matches, row.Drift, row.Until = Declared, ae.Namespace+"/"+ae.Name, matches, drift, until(ae)
		cr.rows = append(cr.rows, row)
	}
	for _, arn := range slices.Sorted(maps.Keys(p.Associate)) {
		if _, held := obs.Policies[arn]; !held {
			row := cr.policyRow(cr.baseRow(id.PrincipalARN, obs), arn, p.Associate[arn])
			row.Origin, row.Object, row.Matches, row.Drift, row.Source = Declared, ae.Namespace+"/"+ae.Name, Drifted, "declared, and EKS does not hold it", FromSpec
			cr.rows = append(cr.rows, row)
		}
	}
	return nil
}

// readUndeclared reads an entry no object holds and says where it comes from.
func (cr *clusterRead) readUndeclared(ctx context.Context, principal string) error {
	obs, err := cr.eks.Describe(ctx, cr.c.Name, principal)
	if err == nil && v1.AccessEntryType(obs.Type).ListsPolicies() {
		obs.Policies, err = cr.eks.Policies(ctx, cr.c.Name, principal)
	}
	if awsapi.IsNotFound(err) {
		return nil // deleted since it was listed
	}
	if err != nil {
		return fmt.Errorf("reading the entry of %s: %w", principal, err)
	}
	origin, why, err := cr.originOf(ctx, principal, obs)
	if err != nil {
		return err
	}
	for _, row := range cr.observedRows(principal, obs) {
		row.Origin, row.Why = origin, why
		cr.rows = append(cr.rows, row)
	}
	return nil
}

// originOf says whether EKS made an entry no object holds, and what shows it.
// An entry that looks like the creator's (cluster-admin, made with the cluster)
// is only a candidate: the cluster must have given its creator one, and only
// the earliest candidate is it (resolveCreator).
func (cr *clusterRead) originOf(ctx context.Context, principal string, obs *plan.Observed) (Origin, string, error) {
	if owner, owned := ownership.Of(obs.Tags); owned {
		return Unmanaged, "it carries the ownership tags of " + owner.String() + ", which holds it no longer here: left behind (deletionPolicy Retain, a removed finalizer) or another instance's", nil
	}
	if why := guardrails.MadeByEKSHoldingAdmin(principal, *obs, time.Time{}); why != "" {
		return MadeByEKS, why, nil
	}
	facts, err := cr.clusterFacts(ctx)
	if err != nil || !guardrails.MadeForCreator(*obs, facts.CreatedAt) {
		return Unmanaged, "no AccessEntry declares it", err
	}
	if !facts.CreatorAdmin {
		return Unmanaged, "no AccessEntry declares it; it holds cluster-admin like the creator's entry, but EKS gave the cluster's creator none (bootstrapClusterCreatorAdminPermissions is false)", nil
	}
	cr.creators = append(cr.creators, creatorCandidate{principal: principal, created: obs.CreatedAt})
	return MadeByEKS, guardrails.CreatorEntry, nil
}

// creatorCandidate is an entry that looks like the creator's.
type creatorCandidate struct {
	principal string
	created   time.Time
}

// clusterFacts reads DescribeCluster once; a ClusterAccessConfig's record of
// the creation time does not say whether the creator got an entry.
func (cr *clusterRead) clusterFacts(ctx context.Context) (awsapi.ClusterFacts, error) {
	if cr.facts == nil {
		f, err := cr.eks.ClusterFacts(ctx, cr.c.Name)
		if err != nil {
			return f, fmt.Errorf("reading the cluster (DescribeCluster): %w", err)
		}
		cr.facts = &f
	}
	return *cr.facts, nil
}

// resolveCreator keeps EKS as the origin of the earliest creator candidate only:
// EKS makes one entry for the creator, and an admin made by hand soon after the
// cluster (by the same Terraform apply, say) must not pass for it.
func (cr *clusterRead) resolveCreator() {
	if len(cr.creators) < 2 {
		return
	}
	first := slices.MinFunc(cr.creators, func(a, b creatorCandidate) int { return a.created.Compare(b.created) })
	for i := range cr.rows {
		r := &cr.rows[i]
		if r.Origin == MadeByEKS && r.Why == guardrails.CreatorEntry && r.Principal != first.principal {
			r.Origin, r.Why = Unmanaged, "no AccessEntry declares it; it holds cluster-admin and was made soon after the cluster, but the creator's entry is "+first.principal
		}
	}
}

// configRows are the entries the ClusterAccessConfig's status lists as
// unmanaged that hold no admin-equivalent policy (those were read already).
func (cr *clusterRead) configRows(holders map[string][]string) {
	if cr.c.Config == nil {
		cr.notes = append(cr.notes, fmt.Sprintf("cluster %s (%s): no ClusterAccessConfig, so entries no AccessEntry declares are listed only when they hold an admin-equivalent policy; --live lists them all", cr.c.Name, cr.c.Region))
		return
	}
	for _, u := range cr.c.Config.Status.UnmanagedEntries {
		if u.Action == guardrails.PruneDelete || u.Action == guardrails.PruneRevoked || holders[u.PrincipalARN] != nil || cr.holding[u.PrincipalARN] != nil {
			continue
		}
		row := cr.row(u.PrincipalARN)
		row.Type, row.Source = u.Type, FromConfigStatus
		row.Origin, row.Why = Unmanaged, "the operator lists it as "+u.Action
		why := u.MadeByEKS
		if why == "" {
			// Recorded by an operator before madeByEKS: the type and principal still tell.
			why = guardrails.MadeByEKS(u.PrincipalARN, plan.Observed{Type: u.Type}, time.Time{})
		}
		if why != "" {
			row.Origin, row.Why = MadeByEKS, why
		}
		if u.Reason != "" {
			row.Why += "; " + u.Reason
		}
		cr.rows = append(cr.rows, row)
	}
}

// row is a row of the cluster for a principal.
func (cr *clusterRead) row(principal string) Row {
	return Row{Cluster: cr.c.Name, Account: cr.c.Account, Region: cr.c.Region, Principal: principal}
}

// baseRow is an entry's row as EKS holds it, without a policy.
func (cr *clusterRead) baseRow(principal string, obs *plan.Observed) Row {
	row := cr.row(principal)
	seen := cr.now
	row.Type, row.Username, row.Groups, row.Source, row.SeenAt = obs.Type, obs.Username, plan.Sorted(obs.Groups), FromEKS, &seen
	return row
}

// observedRows are an entry's rows as EKS holds it: one per policy, or one.
func (cr *clusterRead) observedRows(principal string, obs *plan.Observed) []Row {
	base := cr.baseRow(principal, obs)
	if len(obs.Policies) == 0 {
		return []Row{base}
	}
	var rows []Row
	for _, arn := range slices.Sorted(maps.Keys(obs.Policies)) {
		rows = append(rows, cr.policyRow(base, arn, obs.Policies[arn].Scope))
	}
	return rows
}

// policyRow is base with one policy.
func (cr *clusterRead) policyRow(base Row, arn string, scope plan.Scope) Row {
	base.PolicyARN, base.Policy = arn, policyName(arn)
	base.Scope = scopeText(scope.Type, scope.Namespaces)
	base.Admin, base.AdminWhy = accesspolicy.ReachOf(base.Policy)
	return base
}

// statusRows are an object's rows as its status records them.
func (cr *clusterRead) statusRows(ae *v1.AccessEntry) []Row {
	st := &ae.Status
	base := cr.row(st.Identity.PrincipalARN)
	base.Type, base.Username, base.Groups = string(st.Identity.Type), st.Username, plan.Sorted(st.KubernetesGroups)
	base.Origin, base.Object, base.Matches, base.Until, base.Source = Declared, ae.Namespace+"/"+ae.Name, Matches, until(ae), FromStatus
	seen := st.LastVerifiedAt.Time
	base.SeenAt = &seen
	if len(st.AccessPolicies) == 0 {
		return []Row{base}
	}
	var rows []Row
	for _, p := range st.AccessPolicies {
		rows = append(rows, cr.policyRow(base, p.PolicyARN, plan.Scope{Type: string(p.AccessScope.Type), Namespaces: p.AccessScope.Namespaces}))
	}
	return rows
}

// specRows are an object's rows as its spec declares them, for a declaration
// EKS does not hold.
func (cr *clusterRead) specRows(ae *v1.AccessEntry, matches, drift string) []Row {
	principal := ae.Principal()
	if principal == "" && ae.Spec.IdentityCenter != nil {
		principal = "permission set " + ae.Spec.IdentityCenter.PermissionSet
	}
	base := cr.row(principal)
	base.Type, base.Username, base.Source = string(ae.Spec.EntryType()), ae.Spec.Username, FromSpec
	for _, g := range ae.Spec.KubernetesGroups {
		base.Groups = append(base.Groups, string(g))
	}
	base.Origin, base.Object, base.Matches, base.Drift, base.Until = Declared, ae.Namespace+"/"+ae.Name, matches, drift, until(ae)
	if len(ae.Spec.AccessPolicies) == 0 {
		return []Row{base}
	}
	var rows []Row
	for _, p := range ae.Spec.AccessPolicies {
		s := plan.Scope{Type: string(p.AccessScope.Type)}
		for _, n := range p.AccessScope.Namespaces {
			s.Namespaces = append(s.Namespaces, string(n))
		}
		rows = append(rows, cr.policyRow(base, p.PolicyARN, s))
	}
	return rows
}

// markOverdue calls drifted a time-bound grant past its end that EKS still
// holds: the operator has not revoked it yet.
func (cr *clusterRead) markOverdue() {
	for i := range cr.rows {
		r := &cr.rows[i]
		if r.Origin == Declared && r.Source != FromSpec && r.Until != nil && !cr.now.Before(*r.Until) {
			r.Matches, r.Drift = Drifted, joinDetail(r.Drift, "expired at "+r.Until.UTC().Format(time.RFC3339)+", and EKS still holds it")
		}
	}
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// pendingWhy is the Ready condition of an object that holds no entry.
func pendingWhy(ae *v1.AccessEntry) string {
	c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
	if c == nil {
		return "not reconciled yet"
	}
	return c.Reason + ": " + c.Message
}

func until(ae *v1.AccessEntry) *time.Time {
	if ae.Spec.ExpiresAt == nil {
		return nil
	}
	t := ae.Spec.ExpiresAt.Time
	return &t
}
