package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// Permission sets: the AccessEntries of ssoNS name IAM Identity Center
// permission sets, not roles, on both clusters; the sets are provisioned again
// at random moments (the role deleted, one with a new suffix and ID made),
// in both accounts the first cluster moves between, amid the faults and kills
// of the rest of the soak. At the end every object is Ready on the role IAM
// holds now for its set, EKS holds its entry for that role, and no role a set
// had before holds an entry.

// ssoNS is a namespace the operator trusts, holding the permission sets' objects.
const ssoNS = "soak-sso"

// permissionSets are assigned to both accounts; one is in the regional path form.
var permissionSets = []eksemulator.PermissionSetConfig{
	{Name: "SoakDevelopers", Account: account}, {Name: "SoakOperators", Account: account, Region: region}, {Name: "SoakAuditors", Account: account},
	{Name: "SoakDevelopers", Account: otherAccount}, {Name: "SoakOperators", Account: otherAccount, Region: region}, {Name: "SoakAuditors", Account: otherAccount},
}

type ssoSets struct {
	emu     *eksemulator.Server
	objects []*v1.AccessEntry
	// old are the roles the sets held before being provisioned again.
	old []string
	// reprovisioned counts the re-provisionings by set name.
	reprovisioned map[string]int
}

// newSSOSets creates an object for each set (by name) on each cluster, one in
// two under deletionPolicy Retain, which re-provisioning overrides.
func newSSOSets(ctx context.Context, k8s client.Client, emu *eksemulator.Server) (*ssoSets, error) {
	s := &ssoSets{emu: emu, reprovisioned: map[string]int{}}
	n := 0
	for _, set := range permissionSets[:3] {
		for _, cl := range clusters {
			policy := v1.DeletionPolicyDelete
			if n%2 == 1 {
				policy = v1.DeletionPolicyRetain
			}
			ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sso-%d", n), Namespace: ssoNS}, Spec: v1.AccessEntrySpec{
				ClusterName: cl, IdentityCenter: &v1.IdentityCenterPrincipal{PermissionSet: set.Name}, DeletionPolicy: policy,
				KubernetesGroups: []v1.KubernetesGroup{"sso-people"},
				AccessPolicies:   []v1.AccessPolicy{{PolicyARN: policyARN("AmazonEKSViewPolicy"), AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}}}
			if err := k8s.Create(ctx, ae); err != nil {
				return nil, err
			}
			s.objects = append(s.objects, ae)
			n++
		}
	}
	return s, nil
}

// step provisions one set of one account again.
func (s *ssoSets) step(rng *rand.Rand) (string, error) {
	set := permissionSets[rng.IntN(len(permissionSets))]
	before := s.rolesOf(set.Account, set.Name)
	if _, err := s.emu.ReprovisionPermissionSet(set.Account, set.Name); err != nil {
		return "permission set provisioned again", err
	}
	s.old = append(s.old, before...)
	s.reprovisioned[set.Name]++
	return "permission set provisioned again", nil
}

// rolesOf are the roles IAM holds now for a set in an account.
func (s *ssoSets) rolesOf(acct, set string) []string {
	var out []string
	for _, p := range s.emu.State().Principals {
		if a, _ := awsarn.AccountOf(p.ARN); a == acct && awsapi.IsPermissionSetRole(p.ARN, set) {
			out = append(out, p.ARN)
		}
	}
	return out
}

// await waits until every object is Ready on its set's current role (at most
// timeout), and returns the problems left then.
func (s *ssoSets) await(ctx context.Context, k8s client.Client, m *model, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		problems := s.problems(ctx, k8s, m)
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems
		}
		time.Sleep(time.Second)
	}
}

// problems holds each object and EKS to the sets as IAM holds them now.
func (s *ssoSets) problems(ctx context.Context, k8s client.Client, m *model) []string {
	var out []string
	for _, o := range s.objects {
		acct := m.accountOf(o.Spec.ClusterName)
		roles := s.rolesOf(acct, o.Spec.IdentityCenter.PermissionSet)
		if len(roles) != 1 {
			out = append(out, fmt.Sprintf("IAM holds %d roles for set %s in %s: %v", len(roles), o.Spec.IdentityCenter.PermissionSet, acct, roles))
			continue
		}
		live := &v1.AccessEntry{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
			out = append(out, fmt.Sprintf("%s: %v", o.Name, err))
			continue
		}
		ready := meta.FindStatusCondition(live.Status.Conditions, v1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionTrue || live.Status.ObservedGeneration != live.Generation ||
			live.Status.IdentityCenter == nil || live.Status.IdentityCenter.RoleARN != roles[0] {
			out = append(out, fmt.Sprintf("%s (set %s, cluster %s): not Ready on %s: %s, status.identityCenter %+v", o.Name,
				o.Spec.IdentityCenter.PermissionSet, o.Spec.ClusterName, roles[0], conditionsOf(*live), live.Status.IdentityCenter))
			continue
		}
		e, held := s.emu.Entry(acct, region, o.Spec.ClusterName, roles[0])
		if own, ok := ownership.Of(e.Tags); !held || !ok || own.Name != o.Name || e.PrincipalID != s.emu.PrincipalID(roles[0]) {
			out = append(out, fmt.Sprintf("%s: EKS holds no entry of its own for %s (held %v, tags %v)", o.Name, roles[0], held, e.Tags))
		}
	}
	for _, old := range s.old {
		acct, _ := awsarn.AccountOf(old)
		for _, cl := range clusters {
			if _, held := s.emu.Entry(acct, region, cl, old); held {
				out = append(out, fmt.Sprintf("EKS (account %s, cluster %s) still holds an entry of %s, a role its set no longer has", acct, cl, old))
			}
		}
	}
	return out
}

// summary says how many times the sets were provisioned again, and how many
// of the old roles EKS still holds an entry of.
func (s *ssoSets) summary() string {
	total := 0
	for _, n := range s.reprovisioned {
		total += n
	}
	old := slices.Compact(slices.Sorted(slices.Values(s.old)))
	held := 0
	for _, arn := range old {
		acct, _ := awsarn.AccountOf(arn)
		for _, cl := range clusters {
			if _, ok := s.emu.Entry(acct, region, cl, arn); ok {
				held++
			}
		}
	}
	return fmt.Sprintf("%d objects on %d sets; %d re-provisionings (%s), %d old roles, %d entries of them left in EKS",
		len(s.objects), len(permissionSets), total, counted(s.reprovisioned), len(old), held)
}
