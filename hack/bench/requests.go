package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// requestNS is where the expiry benchmark's requests are made with
// --requests: a tenant's namespace, so that every grant is judged under the
// time-bound rule as a tenant's would be.
const requestNS = "oncall"

// requestedGrants makes the expiry benchmark's grants through AccessRequests
// (--requests): a time-bound rule on the expiring cluster, and per grant a
// request for ClusterAdmin and an approval by the rule's approver. Each asks
// for a duration that ends it within 30 seconds of the others after the grants
// can converge; the operator starts each grant when it sees the approval, over
// about 30 seconds more, so that they expire within about a minute. It waits until every grant's AccessEntry is Ready,
// and returns the grants as the operator made them and the first expiry.
// Admission is not installed here: who asks and who approves is tested elsewhere.
func requestedGrants(ctx context.Context, w *testenv.World, o options) ([]*v1.AccessEntry, time.Time, error) {
	k8s := w.Client
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: requestNS}}); err != nil {
		return nil, time.Time{}, err
	}
	if err := k8s.Create(ctx, oncallConfig(o.entries)); err != nil {
		return nil, time.Time{}, err
	}
	if err := waitConfigs(ctx, k8s, 2); err != nil {
		return nil, time.Time{}, err
	}
	// Like expiries: the first after 1.5 times the grants' floor (a create and an
	// associate each) and a minute for the other account's changes.
	base := time.Duration(1.5*float64(2*o.entries)/o.rate)*time.Second + time.Minute
	rng := rand.New(rand.NewPCG(o.seed, o.seed+3))
	asked := make([]*v1.AccessEntry, o.entries) // one per request, to run them in parallel
	requests := map[string]*v1.AccessRequest{}
	for i := range asked {
		ar := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("grant-%05d", i), Namespace: requestNS}, Spec: v1.AccessRequestSpec{
			Requester: "requester", Reason: "bench", Duration: metav1.Duration{Duration: base + time.Duration(rng.IntN(30))*time.Second},
			Grant: v1.AccessEntrySpec{ClusterName: clusterOf(0), PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/bench/oncall-%05d", accountOf(0), i),
				AccessPolicies: []v1.AccessPolicy{{PolicyARN: clusterAdmin, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}}}}
		requests[ar.Name], asked[i] = ar, &v1.AccessEntry{ObjectMeta: ar.ObjectMeta}
	}
	say("%d requests for ClusterAdmin, each approved", len(asked))
	err := parallel(asked, func(ae *v1.AccessEntry) error {
		ar := requests[ae.Name]
		if err := k8s.Create(ctx, ar); err != nil {
			return err
		}
		return k8s.Create(ctx, &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: ar.Name, Namespace: requestNS}, Spec: v1.AccessApprovalSpec{
			Request: ar.Name, RequestUID: string(ar.UID), Decision: v1.Approve, Approver: "approver", ApproverGroups: []string{"oncall"}}})
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	only := map[string]bool{}
	for _, ae := range asked {
		only[ae.Name] = true
	}
	if _, err := waitForEveryIn(ctx, k8s, requestNS, base, 500*time.Millisecond, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, only)
		return n, n == len(asked)
	}); err != nil {
		return nil, time.Time{}, fmt.Errorf("the grants were not all Ready: %w", err)
	}
	return granted(ctx, k8s, only)
}

// clusterAdmin is the policy the requests ask for.
const clusterAdmin = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

// oncallConfig is the expiring cluster's ClusterAccessConfig: requestNS may ask
// for ClusterAdmin for an hour at most, approved by one member of oncall, and
// hold all n grants at once.
func oncallConfig(n int) *v1.ClusterAccessConfig {
	return &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: clusterOf(0)}, Spec: v1.ClusterAccessConfigSpec{
		ClusterName: clusterOf(0), Guardrails: v1.Guardrails{MaxTenantEntries: int32(n), Rules: []v1.GrantRule{{
			Name: "oncall", Namespaces: v1.RuleNamespaces{Names: []string{requestNS}}, MaxEntriesPerNamespace: int32(n),
			Principals:     v1.RulePrincipals{Accounts: []string{accountOf(0)}},
			AccessPolicies: []v1.PolicyGrant{{PolicyARN: clusterAdmin, ClusterScope: true}},
			TimeBound: &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: time.Hour}, Approvals: 1,
				Approvers: v1.Approvers{Groups: []string{"oncall"}}}}}}}}
}

// granted reads the grants' AccessEntries, whose spec.expiresAt the operator
// set at the grant, and returns them with the first expiry.
func granted(ctx context.Context, k8s client.Client, only map[string]bool) ([]*v1.AccessEntry, time.Time, error) {
	list := &v1.AccessEntryList{}
	if err := k8s.List(ctx, list, client.InNamespace(requestNS)); err != nil {
		return nil, time.Time{}, err
	}
	var out []*v1.AccessEntry
	var first time.Time
	for i := range list.Items {
		ae := &list.Items[i]
		if !only[ae.Name] || ae.Spec.ExpiresAt == nil {
			continue
		}
		if first.IsZero() || ae.Spec.ExpiresAt.Before(&metav1.Time{Time: first}) {
			first = ae.Spec.ExpiresAt.Time
		}
		out = append(out, ae)
	}
	if len(out) != len(only) {
		return nil, time.Time{}, fmt.Errorf("%d of %d grants have an AccessEntry with an expiry", len(out), len(only))
	}
	return out, first, nil
}
