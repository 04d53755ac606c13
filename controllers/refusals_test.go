package controllers

import (
	"context"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The refusals only EKS or the operator can decide: the CRD admits each of these
// objects, and each ends in Ready=False with a reason and a message that names
// the fix, without a write to any other entry. They run against an EKS emulator
// of their own, in strict mode (only the listed IAM principals exist), driven by
// a manager of their own that watches the objects labelled shard=strict and has
// no default region.
const (
	refusalsCluster = "refusals"
	// refusalsLegacy only authenticates through the aws-auth ConfigMap.
	refusalsLegacy = "refusals-legacy"
	// refusalsGuarded has a ClusterAccessConfig with guardrails, whose rule
	// admits refusalsTenant, a namespace the operator does not trust.
	refusalsGuarded = "refusals-guarded"
	refusalsTenant  = "refusals-tenant"
	// refusalsFull holds at most one access entry.
	refusalsFull    = "refusals-full"
	refusalsShard   = "strict"
	refusalsRecheck = time.Second
	// refusalsSettle is long enough for a recheck, so that a row also shows what
	// the operator does when it looks again.
	refusalsSettle = refusalsRecheck + 500*time.Millisecond
)

var refusalsClusters = []string{refusalsCluster, refusalsLegacy, refusalsGuarded}

// refusalsWriteOps are the EKS operations that change something.
var refusalsWriteOps = []string{"CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy",
	"DisassociateAccessPolicy", "TagResource", "UntagResource"}

type refusal struct {
	name string
	ae   *v1.AccessEntry
	// setup runs before the snapshot of EKS is taken: what it writes does not count.
	setup func(t *testing.T)
	// reason of Ready=False; stalled says whether a person has to act (Stalled=True)
	// or the operator keeps waiting (Reconciling=True).
	reason    string
	stalled   bool
	fragments []string
	// okWrites is the number of successful EKS writes, calls the number of calls
	// of an operation (any outcome) the refusal costs. noCalls: not one EKS call.
	okWrites int
	calls    map[string]int
	noCalls  bool
	// fix, when set, makes the fix and checks that the object converges.
	fix func(t *testing.T, ae *v1.AccessEntry, before map[string][]eksemulator.Entry, calls0 map[string]map[string]int)
}

func TestRuntimeRefusals(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	role := func(name string) string { return roleARN("refusals-" + name) }
	const foreignAccount = "444455556666"
	foreignNodes := "arn:aws:iam::" + foreignAccount + ":role/refusals-foreign-nodes"
	notYet := role("not-yet")
	known := []string{role("bad-policy"), role("legacy"), role("missing-cluster"), role("contested"), role("handmade"),
		role("node-made"), role("guarded"), role("no-region"), role("squatter"), role("over-quota"), foreignNodes}

	rEmu, err := eksemulator.New(eksemulator.Config{
		Clusters: []eksemulator.ClusterConfig{
			{Name: refusalsCluster, Account: account, Region: region, AuthenticationMode: eksemulator.ModeAPI},
			{Name: refusalsLegacy, Account: account, Region: region, AuthenticationMode: eksemulator.ModeConfigMap},
			{Name: refusalsGuarded, Account: account, Region: region, AuthenticationMode: eksemulator.ModeAPI},
			{Name: refusalsFull, Account: account, Region: region, AuthenticationMode: eksemulator.ModeAPI, MaxAccessEntries: 1},
		},
		Principals: known,
		Seed:       2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rEmu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rEmu.Close() })
	rAdmin := eks.NewFromConfig(refusalsAWSConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(rEmu.URL()) })
	cached := startRefusalsManager(t, rEmu.URL())

	// strict labels an object for this test's manager, and pins its region: the
	// manager has no default one.
	strict := func(name, principal, cluster string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
		return entry(name, principal, append([]func(*v1.AccessEntry){func(ae *v1.AccessEntry) {
			ae.Labels = map[string]string{shardLabel: refusalsShard}
			ae.Spec.ClusterName = cluster
			ae.Spec.Region = region
		}}, mutate...)...)
	}
	withPolicy := func(arn string, namespaces ...v1.ScopeNamespace) func(*v1.AccessEntry) {
		return func(ae *v1.AccessEntry) {
			p := v1.AccessPolicy{PolicyARN: arn, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
			if len(namespaces) > 0 {
				p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: namespaces}
			}
			ae.Spec.AccessPolicies = append(ae.Spec.AccessPolicies, p)
		}
	}
	const (
		policyView    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
		policyEdit    = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
		policyUnknown = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSNoSuchPolicy"
	)
	madeByHand := func(principal, typ string) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := rAdmin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(refusalsCluster),
				PrincipalArn: aws.String(principal), Type: aws.String(typ), Tags: map[string]string{"made-by": "hand"}}); err != nil {
				t.Fatal(err)
			}
		}
	}

	rows := []refusal{{
		name: "principal IAM does not know yet", reason: v1.ReasonPrincipalNotFound,
		ae:        strict("refusals-not-yet", notYet, refusalsCluster, withPolicy(policyView)),
		fragments: []string{"EKS does not know " + notYet, "propagate", "create it in IAM or correct spec.principalARN"},
		fix: func(t *testing.T, ae *v1.AccessEntry, before map[string][]eksemulator.Entry, calls0 map[string]map[string]int) {
			rEmu.AddPrincipal(notYet)
			waitReady(t, ae, 30*time.Second)
			if n := refusalsOKWrites(refusalsDelta(calls0, rEmu.Calls())); n != 2 {
				t.Errorf("%d successful writes to converge, want 2 (create, associate): %v", n, refusalsDelta(calls0, rEmu.Calls()))
			}
			refusalsSameOthers(t, before, refusalsSnapshot(rEmu), refusalsCluster, notYet)
		},
	}, {
		name: "node role in another account", reason: v1.ReasonInvalidSpec, stalled: true,
		ae:        strict("refusals-foreign-nodes", foreignNodes, refusalsCluster, func(ae *v1.AccessEntry) { ae.Spec.Type = v1.TypeEC2Linux }),
		fragments: []string{"EKS refused the entry", "must be an IAM role in the cluster's account " + account, "fix the spec"},
		// A permanent error is not retried.
		calls: map[string]int{"CreateAccessEntry": 1},
	}, {
		name: "access policy EKS does not have", reason: v1.ReasonInvalidSpec, stalled: true,
		ae:        strict("refusals-bad-policy", role("bad-policy"), refusalsCluster, withPolicy(policyView), withPolicy(policyUnknown, "apps")),
		fragments: []string{policyUnknown, "list-access-policies", "fix the spec"},
		// The entry is created; EKS refuses the unknown policy, which does not hold
		// back the one it knows. Terminal: nothing is tried again until the spec changes.
		okWrites: 2, calls: map[string]int{"CreateAccessEntry": 1, "AssociateAccessPolicy": 2},
	}, {
		name: "cluster in CONFIG_MAP mode", reason: v1.ReasonAuthenticationModeNotSupported, stalled: true,
		ae:        strict("refusals-legacy", role("legacy"), refusalsLegacy),
		fragments: []string{"aws eks update-cluster-config --name " + refusalsLegacy + " --access-config authenticationMode=API_AND_CONFIG_MAP"},
		// The fix the message names. Without it the object cannot be deleted today:
		// the delete path stops at the same refusal, although a cluster still in
		// CONFIG_MAP mode has never held an access entry.
		fix: func(t *testing.T, ae *v1.AccessEntry, before map[string][]eksemulator.Entry, calls0 map[string]map[string]int) {
			if _, err := rAdmin.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: aws.String(refusalsLegacy),
				AccessConfig: &types.UpdateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApiAndConfigMap}}); err != nil {
				t.Fatal(err)
			}
			waitReady(t, ae, 30*time.Second)
			if n := refusalsOKWrites(refusalsDelta(calls0, rEmu.Calls())); n != 1 {
				t.Errorf("%d successful writes to converge, want 1 (create): %v", n, refusalsDelta(calls0, rEmu.Calls()))
			}
			refusalsSameOthers(t, before, refusalsSnapshot(rEmu), refusalsLegacy, ae.Spec.PrincipalARN)
		},
	}, {
		name: "cluster EKS does not have", reason: v1.ReasonClusterNotFound, stalled: true,
		ae:        strict("refusals-missing-cluster", role("missing-cluster"), "refusals-missing"),
		fragments: []string{"no cluster refusals-missing in region " + region, "check spec.clusterName and spec.region"},
	}, {
		name: "entry owned by another object", reason: v1.ReasonConflict, stalled: true,
		setup: func(t *testing.T) {
			owner := strict("refusals-owner", role("contested"), refusalsCluster, func(ae *v1.AccessEntry) {
				ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"owners"}
			})
			create(t, owner)
			waitReady(t, owner, 30*time.Second)
		},
		ae: strict("refusals-contender", role("contested"), refusalsCluster, func(ae *v1.AccessEntry) {
			ae.Spec.KubernetesGroups = []v1.KubernetesGroup{"intruders"}
		}),
		fragments: []string{"belongs to AccessEntry " + testNS + "/refusals-owner", "only one object may manage a principal"},
	}, {
		name: "entry nobody manages", reason: v1.ReasonAlreadyExists, stalled: true,
		setup:     madeByHand(role("handmade"), "STANDARD"),
		ae:        strict("refusals-handmade", role("handmade"), refusalsCluster, withPolicy(policyView)),
		fragments: []string{"no AccessEntry manages it", "annotate this object with " + v1.AdoptAnnotation + `: "true"`},
	}, {
		name: "adopting an entry of another type", reason: v1.ReasonAlreadyExists, stalled: true,
		setup: madeByHand(role("node-made"), "EC2_LINUX"),
		ae: strict("refusals-node-made", role("node-made"), refusalsCluster, func(ae *v1.AccessEntry) {
			ae.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
		}),
		fragments: []string{"is of type EC2_LINUX, not STANDARD", "set spec.type to EC2_LINUX to adopt it"},
	}, {
		name: "guardrail of the cluster", reason: v1.ReasonNotPermitted, stalled: true,
		setup: func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: refusalsTenant}}
			if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: refusalsGuarded}, Spec: v1.ClusterAccessConfigSpec{
				ClusterName: refusalsGuarded, Region: region, Guardrails: v1.Guardrails{Rules: []v1.GrantRule{{
					Name: "tenant", Namespaces: v1.RuleNamespaces{Names: []string{refusalsTenant}},
					Principals:     v1.RulePrincipals{Accounts: []string{account}},
					AccessPolicies: []v1.PolicyGrant{{PolicyARN: policyView, Namespaces: []v1.NamespacePattern{"apps"}}},
				}}}}}
			if err := k8s.Create(ctx, cac); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := k8s.Delete(context.Background(), cac); err != nil && !apierrors.IsNotFound(err) {
					t.Errorf("deleting ClusterAccessConfig %s: %v", cac.Name, err)
				}
			})
			// The object must not be reconciled before this test's manager sees its guardrails.
			testenv.Eventually(t, 10*time.Second, "the manager to see ClusterAccessConfig "+cac.Name, func() (bool, string) {
				err := cached.Get(ctx, client.ObjectKeyFromObject(cac), &v1.ClusterAccessConfig{})
				return err == nil, refusalsErr(err)
			})
		},
		ae: strict("refusals-guarded", role("guarded"), refusalsGuarded, withPolicy(policyEdit, "apps"),
			func(ae *v1.AccessEntry) { ae.Namespace = refusalsTenant }),
		fragments: []string{"not permitted by rule tenant of ClusterAccessConfig " + refusalsGuarded,
			"spec.accessPolicies AmazonEKSEditPolicy is not allowed (allowed: AmazonEKSViewPolicy)", "Fix:"},
		noCalls: true,
	}, {
		name: "cluster at its quota of access entries", reason: v1.ReasonLimitExceeded, stalled: true,
		setup: func(t *testing.T) {
			if _, err := rAdmin.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(refusalsFull),
				PrincipalArn: aws.String(role("squatter"))}); err != nil {
				t.Fatal(err)
			}
		},
		ae:        strict("refusals-over-quota", role("over-quota"), refusalsFull),
		fragments: []string{"cluster " + refusalsFull + " has reached its quota of access entries", "ask AWS for a higher quota"},
		// The fix the message names: an entry deleted makes room.
		fix: func(t *testing.T, ae *v1.AccessEntry, _ map[string][]eksemulator.Entry, _ map[string]map[string]int) {
			if _, err := rAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(refusalsFull),
				PrincipalArn: aws.String(role("squatter"))}); err != nil {
				t.Fatal(err)
			}
			before, calls0 := refusalsSnapshot(rEmu), rEmu.Calls()
			waitReady(t, ae, 30*time.Second)
			if n := refusalsOKWrites(refusalsDelta(calls0, rEmu.Calls())); n != 1 {
				t.Errorf("%d successful writes to converge, want 1 (create): %v", n, refusalsDelta(calls0, rEmu.Calls()))
			}
			refusalsSameOthers(t, before, refusalsSnapshot(rEmu), refusalsFull, ae.Spec.PrincipalARN)
		},
	}, {
		name: "no region anywhere", reason: v1.ReasonNoRegion, stalled: true,
		ae:        strict("refusals-no-region", role("no-region"), refusalsCluster, func(ae *v1.AccessEntry) { ae.Spec.Region = "" }),
		fragments: []string{"set spec.region or start the operator with --region"},
		noCalls:   true,
	}}

	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.setup != nil {
				row.setup(t)
			}
			before, calls0 := refusalsSnapshot(rEmu), rEmu.Calls()
			create(t, row.ae)
			got := waitReason(t, row.ae, row.reason, 30*time.Second)
			ready := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
			for _, f := range row.fragments {
				if !strings.Contains(ready.Message, f) {
					t.Errorf("the %s message does not say %q: %s", row.reason, f, ready.Message)
				}
			}
			stalled := meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionStalled)
			reconciling := meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionReconciling)
			if stalled != row.stalled || reconciling == row.stalled {
				t.Errorf("Stalled=%v Reconciling=%v, want Stalled=%v: %s", stalled, reconciling, row.stalled, conditions(got))
			}
			if row.stalled && got.Status.ObservedGeneration != got.Generation {
				t.Errorf("stalled at generation %d but observedGeneration is %d: kstatus would wait instead of reporting Failed", got.Generation, got.Status.ObservedGeneration)
			}

			time.Sleep(refusalsSettle)
			if c := meta.FindStatusCondition(get(t, client.ObjectKeyFromObject(row.ae)).Status.Conditions, v1.ConditionReady); c.Reason != row.reason || c.Status != metav1.ConditionFalse {
				t.Errorf("after a recheck Ready is %s (%s: %s), want False (%s)", c.Status, c.Reason, c.Message, row.reason)
			}
			delta := refusalsDelta(calls0, rEmu.Calls())
			if n := refusalsOKWrites(delta); n != row.okWrites {
				t.Errorf("%d successful writes to EKS, want %d (calls %v)", n, row.okWrites, delta)
			}
			for op, want := range row.calls {
				if n := refusalsCount(delta[op]); n != want {
					t.Errorf("%d %s calls, want %d (calls %v)", n, op, want, delta)
				}
			}
			if row.noCalls && len(delta) > 0 {
				t.Errorf("refused before EKS, yet EKS was called: %v", delta)
			}
			// Only a row that writes may have made its own entry.
			own := ""
			if row.okWrites > 0 {
				own = row.ae.Spec.PrincipalARN
			}
			refusalsSameOthers(t, before, refusalsSnapshot(rEmu), row.ae.Spec.ClusterName, own)
			if row.okWrites == 0 {
				if _, ok := refusalsFind(before, row.ae.Spec.ClusterName, row.ae.Spec.PrincipalARN); !ok {
					if e, ok := refusalsFind(refusalsSnapshot(rEmu), row.ae.Spec.ClusterName, row.ae.Spec.PrincipalARN); ok {
						t.Errorf("a refused object has an entry in EKS: %+v", e)
					}
				}
			}
			if row.fix != nil && !t.Failed() {
				row.fix(t, row.ae, before, calls0)
			}
		})
	}
}

// startRefusalsManager runs, until the test ends, an AccessEntry controller for the
// objects labelled shard=strict against the EKS emulator at endpoint, without a
// default region, as the suite's managers run: with the operator's RBAC. It
// returns the manager's cached client.
func startRefusalsManager(t *testing.T, endpoint string) client.Client {
	t.Helper()
	return testManager{selector: shardLabel + "=" + refusalsShard, resync: 10 * time.Minute, tune: []func(*AccessEntryReconciler){func(r *AccessEntryReconciler) {
		r.AWS = testClients(refusalsAWSConfig(), endpoint, &budget.Options{QPS: 20, Burst: 20})
		// No default region: an object without spec.region is refused NoRegion.
		r.InstanceID, r.RecheckInterval, r.DefaultRegion = "refusals-instance", refusalsRecheck, ""
		// This emulator shows every write at once. A short window also keeps the
		// delete of an object whose create EKS refused short: the operator records
		// the identity before the create and, until the window has passed, cannot
		// tell a refused create from one not visible yet.
		r.ConsistencyWindow = 3 * time.Second
	}}}.startFor(t).mgr.GetClient()
}

func refusalsAWSConfig() aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDREFUSALS", "secret", "")}
}

// refusalsSnapshot is every entry of the emulator's clusters, by cluster.
func refusalsSnapshot(s *eksemulator.Server) map[string][]eksemulator.Entry {
	out := map[string][]eksemulator.Entry{}
	for _, c := range refusalsClusters {
		out[c] = s.Entries(account, region, c)
	}
	return out
}

func refusalsFind(snap map[string][]eksemulator.Entry, cluster, principal string) (eksemulator.Entry, bool) {
	for _, e := range snap[cluster] {
		if e.PrincipalARN == principal {
			return e, true
		}
	}
	return eksemulator.Entry{}, false
}

// refusalsSameOthers fails the test when an entry other than the one of own in
// cluster appeared, changed or went away.
func refusalsSameOthers(t *testing.T, before, after map[string][]eksemulator.Entry, cluster, own string) {
	t.Helper()
	index := func(snap map[string][]eksemulator.Entry) map[string]eksemulator.Entry {
		m := map[string]eksemulator.Entry{}
		for c, entries := range snap {
			for _, e := range entries {
				if c == cluster && e.PrincipalARN == own && own != "" {
					continue
				}
				m[c+" "+e.PrincipalARN] = e
			}
		}
		return m
	}
	b, a := index(before), index(after)
	for k, e := range b {
		if x, ok := a[k]; !ok || !reflect.DeepEqual(x, e) {
			t.Errorf("entry %s changed:\n before %+v\n after  %+v (present %v)", k, e, x, ok)
		}
	}
	for k, e := range a {
		if _, ok := b[k]; !ok {
			t.Errorf("entry %s appeared: %+v", k, e)
		}
	}
}

// refusalsDelta is the calls made between two readings of the emulator's counts.
func refusalsDelta(before, after map[string]map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for op, outcomes := range after {
		for outcome, n := range outcomes {
			if d := n - before[op][outcome]; d > 0 {
				if out[op] == nil {
					out[op] = map[string]int{}
				}
				out[op][outcome] = d
			}
		}
	}
	return out
}

func refusalsOKWrites(delta map[string]map[string]int) int {
	n := 0
	for _, op := range refusalsWriteOps {
		n += delta[op]["OK"]
	}
	return n
}

func refusalsCount(outcomes map[string]int) int {
	n := 0
	for v := range maps.Values(outcomes) {
		n += v
	}
	return n
}

func refusalsErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
