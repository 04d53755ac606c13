// Command soak runs the operator, as its own process, against a real kube-apiserver
// and an EKS emulator that fails (500s, throttling, latency, eventual consistency),
// while a driver creates, updates, moves and deletes AccessEntries at random, in
// the trusted namespace and in tenant namespaces held to guardrail rules that it
// tightens and loosens; it re-points one cluster's ClusterAccessConfig to a
// same-named cluster in a second account and back, and deletes and re-creates
// another's; and the operator is SIGKILLed and restarted, and kube-apiserver
// restarted once. After quiescence it checks that EKS holds exactly
// what the allowed objects declare, in the account their cluster resolves to and
// in no other, and, for the refused ones, nothing the rules forbid; that nothing
// is left of deleted objects or old identities (but what Retain keeps); that entries no operator owns were not touched; that every object
// is Ready or NotPermitted as the rules say; and that the operator never panicked.
//
// `make soak` runs it for several minutes; `--short` is the variant `make test` runs.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
	"github.com/eksaccess/eks-access-operator/internal/testenv/ekscheck"
)

const (
	account = "111122223333"
	// otherAccount holds a second cluster named like the first, which the first
	// cluster's ClusterAccessConfig is re-pointed to and back (otherRole).
	otherAccount = "444455556666"
	otherRole    = "arn:aws:iam::" + otherAccount + ":role/soak-operator"
	region       = "us-west-2"
	// namespace is the one the operator trusts; tenants' are held to rules.
	namespace = "soak"
	// instance is the operator's --instance-id, which its ownership tags name.
	instance = "soak"
)

var (
	clusters = []string{"soak-a", "soak-b"}
	tenants  = []string{"soak-t1", "soak-t2"}
)

// ruleSets are the guardrails the driver switches a cluster between: loose, tight
// (only View in the tenants' ns-* namespaces, no username, one group), and one
// where the second tenant has no rule at all.
var ruleSets = map[string][]v1.GrantRule{
	"loose": {tenantRule(tenants, []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy"}, true, "group-*", "user-*:*")},
	"tight": {tenantRule(tenants, []string{"AmazonEKSViewPolicy"}, false, "group-0", "")},
	"t1":    {tenantRule(tenants[:1], []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy"}, true, "group-*", "user-*:*")},
}

// tenantRule admits the namespaces, with principals under role/soak/<namespace>-*.
func tenantRule(namespaces, policies []string, clusterScope bool, group, username string) v1.GrantRule {
	r := v1.GrantRule{Name: "tenants", Namespaces: v1.RuleNamespaces{Names: namespaces},
		Principals:       v1.RulePrincipals{ARNs: []v1.Pattern{v1.Pattern("arn:aws:iam::" + account + ":role/soak/{{namespace}}-*")}},
		KubernetesGroups: []v1.Pattern{v1.Pattern(group)}}
	for _, p := range policies {
		r.AccessPolicies = append(r.AccessPolicies, v1.PolicyGrant{PolicyARN: policyARN(p), ClusterScope: clusterScope, Namespaces: []v1.NamespacePattern{"ns-*"}})
	}
	if username != "" {
		r.Usernames = []v1.Pattern{v1.Pattern(username)}
	}
	return r
}

type options struct {
	objects  int
	duration time.Duration
	kills    int
	operator string
	seed     uint64
	settle   time.Duration
}

func main() {
	var o options
	short := flag.Bool("short", false, "the short variant for make test: 40 objects, 60s, 4 kills")
	flag.IntVar(&o.objects, "objects", 200, "AccessEntries alive at most at once")
	flag.DurationVar(&o.duration, "duration", 4*time.Minute, "how long the driver changes things")
	flag.IntVar(&o.kills, "kills", 12, "how many times the operator is SIGKILLed and restarted")
	flag.StringVar(&o.operator, "operator", "bin/eks-access-operator", "the operator binary")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the driver and the emulator's faults")
	flag.DurationVar(&o.settle, "settle", 4*time.Minute, "how long quiescence may take")
	flag.Parse()
	if *short {
		o.objects, o.duration, o.kills = 40, 60*time.Second, 4
	}
	ctrl.SetLogger(logr.Discard())
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAILED:", err)
		os.Exit(1)
	}
}

// model is what the driver believes EKS must end up holding.
type model struct {
	live     map[string]*v1.AccessEntry // by object name: the last spec applied
	retained map[string]bool            // identities kept by Retain
	history  map[string][]string        // by object name: what the driver did, for a failure report
	declared map[string][]string        // by principal ARN: the objects that ever named it, for a failure report
	rules    map[string]string          // by cluster: the rule set its ClusterAccessConfig holds
	remote   bool                       // clusters[0]'s config assumes otherRole: its entries live in otherAccount
	noConfig bool                       // clusters[1]'s config was deleted (and let go)
	seq      int
	emu      *eksemulator.Server
	// rulesChanged is when the driver last changed a ClusterAccessConfig.
	rulesChanged time.Time
	// final holds the objects as settle last saw them, for a failure report.
	final map[string]v1.AccessEntry
}

type identity struct{ cluster, principal string }

func key(account, cluster, principal string) string { return account + " " + cluster + " " + principal }

// accountOf is the account the cluster's entries live in now.
func (m *model) accountOf(cluster string) string {
	if cluster == clusters[0] && m.remote {
		return otherAccount
	}
	return account
}

type counts struct {
	ops             map[string]int
	kills, restarts int
	invariants      int
	// tenants counts the tenant objects at the end: allowed, refused, and refused
	// with something revoked from EKS.
	tenants struct{ allowed, refused, revoked int }
}

func run(o options) error {
	root := testenv.RepoRoot()
	if err := os.MkdirAll(filepath.Join(root, "tmp", "soak"), 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Join(root, "tmp", "soak"), "run-")
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed+1))
	c := counts{ops: map[string]int{}}

	say("starting etcd and kube-apiserver")
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Seed: int64(o.seed), Clusters: []eksemulator.ClusterConfig{
			{Name: clusters[0], Account: account, Region: region, AuthenticationMode: "API"},
			{Name: clusters[1], Account: account, Region: region, AuthenticationMode: "API"},
			{Name: clusters[0], Account: otherAccount, Region: region, AuthenticationMode: "API"},
		}},
		Operator: o.operator,
		WorkDir:  work,
		Region:   region,
		OperatorArgs: []string{"--principal-check-interval=5s", "--iam-qps=50", "--verification-period=20s", "--sweep-period=5s", "--background-qps=10", "--trusted-namespaces=" + namespace,
			"--eks-qps=50", "--eks-burst=50", // above EKS's rate: throttling happens
			"--instance-id=" + instance},
		// A request in flight while kube-apiserver restarts must fail, not hang the driver.
		ClientTimeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	emu, k8s, logPath := w.Emulator, w.Client, w.OperatorLog

	unowned, err := seedUnowned(emu)
	if err != nil {
		return err
	}
	faults := eksemulator.Faults{FaultRate: 0.05, RateLimit: 25, Burst: 25, MaxJitter: 200 * time.Millisecond,
		ConsistencyDelay: 3 * time.Second, ConsistencyRandom: true}
	emu.SetFaults(faults)
	say("EKS emulator faults: 5%% 500s, %v requests/s, latency up to %s, consistency delay up to %s", faults.RateLimit, faults.MaxJitter, faults.ConsistencyDelay)

	if err := w.StartOperator(); err != nil {
		return err
	}

	ctx := context.Background()
	for _, ns := range append([]string{namespace}, tenants...) {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	m := &model{live: map[string]*v1.AccessEntry{}, retained: map[string]bool{}, history: map[string][]string{}, declared: map[string][]string{},
		rules: map[string]string{}, emu: emu}
	for _, cl := range clusters {
		cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: cl}, Spec: v1.ClusterAccessConfigSpec{ClusterName: cl,
			Guardrails: v1.Guardrails{Rules: ruleSets["loose"]}}}
		if err := k8s.Create(ctx, cac); err != nil {
			return err
		}
		m.rules[cl] = "loose"
	}
	say("driving %d objects for %s with %d operator kills and one kube-apiserver restart (operator log: %s)", o.objects, o.duration, o.kills, logPath)
	start := time.Now()
	killAt := make([]time.Duration, o.kills)
	for i := range killAt {
		slot := o.duration / time.Duration(o.kills)
		killAt[i] = time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)))
	}
	restartAt := o.duration / 2
	for time.Since(start) < o.duration || len(killAt) > 0 {
		elapsed := time.Since(start)
		if len(killAt) > 0 && elapsed >= killAt[0] {
			killAt = killAt[1:]
			w.KillOperator()
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
			if err := w.StartOperator(); err != nil {
				return err
			}
			c.kills++
		}
		if restartAt > 0 && elapsed >= restartAt {
			restartAt = 0
			say("restarting kube-apiserver")
			if err := w.RestartAPIServer(); err != nil {
				return fmt.Errorf("restarting kube-apiserver: %w", err)
			}
			c.restarts++
		}
		if kind, err := m.step(ctx, k8s, rng, o.objects); err != nil {
			c.ops["failed ("+kind+")"]++ // the API server may be restarting; the model was not changed
		} else {
			c.ops[kind]++
		}
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
	}

	say("quiescence: faults off, waiting for every object to be Ready or NotPermitted and every deletion to finish")
	emu.SetFaults(eksemulator.Faults{})
	if err := settle(ctx, k8s, m, emu, o.settle); err != nil {
		return err
	}
	if err := m.check(emu, unowned, &c); err != nil {
		if b, ok := errors.AsType[*brokenInvariants](err); ok {
			b.problems = append(b.problems, eventsOf(ctx, k8s, b.names)...)
		}
		return err
	}
	if err := m.countTenants(ctx, k8s, &c); err != nil {
		return err
	}
	logText, _ := os.ReadFile(logPath)
	c.invariants++
	if bytes.Contains(logText, []byte("panic")) {
		return fmt.Errorf("the operator log (%s) shows a panic", logPath)
	}
	report(c, emu, len(m.live))
	return nil
}

// seedUnowned creates entries no operator owns; they must come through untouched.
func seedUnowned(emu *eksemulator.Server) ([]eksemulator.Entry, error) {
	cl := eks.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("soak", "soak", "")},
		func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
	ctx := context.Background()
	for i := range 5 {
		p := fmt.Sprintf("arn:aws:iam::%s:role/unowned-%d", account, i)
		if _, err := cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(clusters[i%2]), PrincipalArn: aws.String(p),
			KubernetesGroups: []string{"hand-made"}, Tags: map[string]string{"owner": "someone-else"}}); err != nil {
			return nil, err
		}
		if _, err := cl.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(clusters[i%2]), PrincipalArn: aws.String(p),
			PolicyArn: aws.String(policyARN("AmazonEKSViewPolicy")), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
			return nil, err
		}
	}
	var out []eksemulator.Entry
	for _, cl := range clusters {
		out = append(out, emu.Entries(account, region, cl)...)
	}
	return out, nil
}

func policyARN(name string) string { return "arn:aws:eks::aws:cluster-access-policy/" + name }

// step makes one random change and records it in the model when the API server took it.
func (m *model) step(ctx context.Context, k8s client.Client, rng *rand.Rand, maxObjects int) (string, error) {
	names := make([]string, 0, len(m.live))
	for n := range m.live {
		names = append(names, n)
	}
	sort.Strings(names)
	r := rng.IntN(100)
	switch {
	case len(names) < maxObjects/4 || (r < 30 && len(names) < maxObjects):
		m.seq++
		ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("soak-%04d", m.seq), Namespace: namespace}}
		if rng.IntN(3) == 0 {
			ae.Namespace = tenants[rng.IntN(len(tenants))]
		}
		ae.Spec.ClusterName = clusters[rng.IntN(2)]
		ae.Spec.PrincipalARN = m.freshPrincipal(ae.Namespace)
		randomize(&ae.Spec, rng)
		if rng.IntN(5) == 0 {
			ae.Spec.DeletionPolicy = v1.DeletionPolicyRetain
		}
		if err := k8s.Create(ctx, ae); err != nil {
			return "create", err
		}
		m.live[ae.Name] = ae.DeepCopy()
		m.note(ae.Name, "create", &ae.Spec)
		return "create", nil
	case r < 60:
		return "update", m.change(ctx, k8s, names[rng.IntN(len(names))], func(s *v1.AccessEntrySpec) { randomize(s, rng) })
	case r < 75:
		name := names[rng.IntN(len(names))]
		return "identity change", m.change(ctx, k8s, name, func(s *v1.AccessEntrySpec) {
			old := identity{s.ClusterName, s.PrincipalARN}
			switch rng.IntN(3) {
			case 0:
				s.PrincipalARN = m.freshPrincipal(m.live[name].Namespace)
			case 1:
				s.ClusterName = clusters[(slices.Index(clusters, s.ClusterName)+1)%2]
			default:
				if s.Type == v1.TypeStandard || s.Type == "" {
					s.Type = v1.TypeEC2Linux
				} else {
					s.Type = v1.TypeStandard
				}
				randomize(s, rng)
			}
			if s.DeletionPolicy == v1.DeletionPolicyRetain && (old != identity{s.ClusterName, s.PrincipalARN}) {
				m.retained[key(m.accountOf(old.cluster), old.cluster, old.principal)] = true
			}
		})
	case r < 78:
		return m.recreatePrincipal(ctx, k8s, rng)
	case r < 81:
		return m.changeRules(ctx, k8s, rng)
	case r < 82:
		return "config re-pointed to the other account", m.repoint(ctx, k8s)
	case r < 83:
		return "config deleted or created again", m.toggleConfig(ctx, k8s)
	default:
		name := names[rng.IntN(len(names))]
		ae := m.live[name]
		if err := k8s.Delete(ctx, &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ae.Namespace}}); err != nil && !apierrors.IsNotFound(err) {
			return "delete", err
		}
		if ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain {
			m.retained[key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)] = true
		}
		delete(m.live, name)
		return "delete", nil
	}
}

// changeRules switches a cluster's ClusterAccessConfig to another rule set:
// tightening makes the operator revoke, loosening lets refused objects through.
func (m *model) changeRules(ctx context.Context, k8s client.Client, rng *rand.Rand) (string, error) {
	const kind = "guardrails change"
	cl := clusters[rng.IntN(len(clusters))]
	sets := slices.Sorted(maps.Keys(ruleSets))
	next := sets[rng.IntN(len(sets))]
	if cl == clusters[1] && m.noConfig {
		return kind + " (skipped, the config is deleted)", nil
	}
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cl}, cac); err != nil {
		return kind, err
	}
	cac.Spec.Guardrails.Rules = ruleSets[next]
	if err := k8s.Update(ctx, cac); err != nil {
		return kind, err
	}
	m.rules[cl], m.rulesChanged = next, time.Now()
	return kind, nil
}

// repoint switches clusters[0]'s ClusterAccessConfig between the operator's own
// credentials and otherRole: every entry of the cluster moves to the other
// account, but for the ones Retain keeps where they were.
func (m *model) repoint(ctx context.Context, k8s client.Client) error {
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: clusters[0]}, cac); err != nil {
		return err
	}
	cac.Spec.RoleARN = ""
	if !m.remote {
		cac.Spec.RoleARN = otherRole
	}
	if err := k8s.Update(ctx, cac); err != nil {
		return err
	}
	for name, ae := range m.live {
		if ae.Spec.ClusterName != clusters[0] {
			continue
		}
		m.event(name, "config of "+clusters[0]+" re-pointed away from account "+m.accountOf(clusters[0]))
		if ae.Spec.DeletionPolicy == v1.DeletionPolicyRetain {
			m.retained[key(m.accountOf(clusters[0]), clusters[0], ae.Spec.PrincipalARN)] = true
		}
	}
	m.remote, m.rulesChanged = !m.remote, time.Now()
	return nil
}

// toggleConfig deletes clusters[1]'s ClusterAccessConfig, letting it go although
// AccessEntries use it, or creates it again: without it the tenants there have
// no rule, and what they hold is revoked.
func (m *model) toggleConfig(ctx context.Context, k8s client.Client) error {
	name := clusters[1]
	if m.noConfig {
		cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.ClusterAccessConfigSpec{ClusterName: name,
			Guardrails: v1.Guardrails{Rules: ruleSets[m.rules[name]]}}}
		if err := k8s.Create(ctx, cac); err != nil {
			return err
		}
		m.noConfig, m.rulesChanged = false, time.Now()
		return nil
	}
	cac := &v1.ClusterAccessConfig{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, cac); err != nil {
		return err
	}
	released := cac.DeepCopy()
	released.Annotations = map[string]string{v1.ReleaseAnnotation: "true"}
	if err := k8s.Patch(ctx, released, client.MergeFrom(cac)); err != nil {
		return err
	}
	if err := k8s.Delete(ctx, cac); err != nil {
		return err
	}
	m.noConfig, m.rulesChanged = true, time.Now()
	return nil
}

// recreatePrincipal deletes and creates again, in IAM, the principal of an object
// whose entry the operator has bound to the principal's ID (status.principalID):
// the operator has to notice and recreate the entry. Objects not checked yet are
// left alone: a principal created again in the same second as its entry cannot be
// told apart by IAM's creation date.
func (m *model) recreatePrincipal(ctx context.Context, k8s client.Client, rng *rand.Rand) (string, error) {
	const kind = "principal re-created in IAM"
	list := &v1.AccessEntryList{}
	if err := k8s.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return kind, err
	}
	var checked []string
	for _, cur := range list.Items {
		live, ok := m.live[cur.Name]
		// The operator reads principals with the credentials of the entry's account:
		// it cannot see a principal of another account re-created.
		if !ok || m.accountOf(live.Spec.ClusterName) != account {
			continue
		}
		arn := live.Spec.PrincipalARN
		ready := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		// Ready at the current generation: no identity move pending that would
		// make a new entry in the same second.
		if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == cur.Generation &&
			cur.Status.Identity != nil && cur.Status.Identity.PrincipalARN == arn &&
			cur.Status.PrincipalID != "" && cur.Status.PrincipalID == m.emu.PrincipalID(arn) {
			checked = append(checked, cur.Name)
		}
	}
	if len(checked) == 0 {
		return kind + " (skipped, none checked yet)", nil
	}
	sort.Strings(checked)
	name := checked[rng.IntN(len(checked))]
	arn := m.live[name].Spec.PrincipalARN
	m.emu.RecreatePrincipal(arn)
	m.event(name, "principal re-created in IAM "+arn)
	return kind, nil
}

// change applies mutate to the live object (retrying on conflicts) and to the model.
func (m *model) change(ctx context.Context, k8s client.Client, name string, mutate func(*v1.AccessEntrySpec)) error {
	spec := m.live[name].Spec.DeepCopy()
	mutate(spec)
	for range 5 {
		cur := &v1.AccessEntry{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: m.live[name].Namespace, Name: name}, cur); err != nil {
			return err
		}
		cur.Spec = *spec
		err := k8s.Update(ctx, cur)
		if err == nil {
			m.live[name].Spec = *spec
			m.note(name, "change", spec)
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return errors.New("conflicts")
}

// note records a step of an object's history.
func (m *model) note(name, what string, s *v1.AccessEntrySpec) {
	m.event(name, fmt.Sprintf("%s %s %s %s %s tags=%v", what, s.ClusterName, s.PrincipalARN, s.Type, s.DeletionPolicy, s.Tags))
	if !slices.Contains(m.declared[s.PrincipalARN], name) {
		m.declared[s.PrincipalARN] = append(m.declared[s.PrincipalARN], name)
	}
}

// event records a step of an object's history, at the time of day the events of
// the operator are listed with.
func (m *model) event(name, what string) {
	m.history[name] = append(m.history[name], time.Now().UTC().Format("15:04:05.0")+" "+what)
}

// freshPrincipal is a new principal; a tenant's are under its own prefix, which
// the tenants' rule allows.
func (m *model) freshPrincipal(ns string) string {
	m.seq++
	return fmt.Sprintf("arn:aws:iam::%s:role/soak/%s-principal-%05d", account, ns, m.seq)
}

// expectedReason is the Ready reason an object must end with: Synced, NotPermitted
// for a refused tenant object, or InvalidSpec for a node role in a cluster of
// another account (EKS refuses it).
func (m *model) expectedReason(ae *v1.AccessEntry) string {
	if v := m.verdict(ae); v != nil && !v.Allowed() {
		return v1.ReasonNotPermitted
	}
	if ae.Spec.EntryType() != v1.TypeStandard && m.accountOf(ae.Spec.ClusterName) != account {
		return v1.ReasonInvalidSpec
	}
	return v1.ReasonSynced
}

// verdict is what the guardrails say of a tenant object under its cluster's
// current rules; nil for an object of the trusted namespace.
func (m *model) verdict(ae *v1.AccessEntry) *guardrails.Verdict {
	if ae.Namespace == namespace {
		return nil
	}
	if ae.Spec.ClusterName == clusters[1] && m.noConfig {
		return &guardrails.Verdict{} // no config, no rule: nothing allowed
	}
	v := guardrails.Judge(guardrails.Config{Name: ae.Spec.ClusterName, Rules: ruleSets[m.rules[ae.Spec.ClusterName]]},
		guardrails.RequestFor(ae, nil))
	return &v
}

// randomize sets the mutable fields: username, groups, tags, policies and scopes
// (for STANDARD), keeping the identity.
func randomize(s *v1.AccessEntrySpec, rng *rand.Rand) {
	s.Username, s.KubernetesGroups, s.AccessPolicies = "", nil, nil
	s.Tags = map[string]v1.TagValue{}
	for i := range rng.IntN(3) {
		s.Tags[fmt.Sprintf("k%d", i)] = v1.TagValue(strconv.Itoa(rng.IntN(3)))
	}
	if s.Type != "" && s.Type != v1.TypeStandard {
		return
	}
	if rng.IntN(3) == 0 {
		s.Username = fmt.Sprintf("user-%d:{{SessionName}}", rng.IntN(5))
	}
	for _, g := range rng.Perm(4)[:rng.IntN(3)] {
		s.KubernetesGroups = append(s.KubernetesGroups, v1.KubernetesGroup(fmt.Sprintf("group-%d", g)))
	}
	names := []string{"AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminPolicy"}
	for _, i := range rng.Perm(3)[:rng.IntN(3)] {
		p := v1.AccessPolicy{PolicyARN: policyARN(names[i]), AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
		if rng.IntN(2) == 0 {
			p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{v1.ScopeNamespace(fmt.Sprintf("ns-%d", rng.IntN(3)))}}
		}
		s.AccessPolicies = append(s.AccessPolicies, p)
	}
}

// settle waits until every live object is Ready at its generation and every
// deleted object is gone.
func settle(ctx context.Context, k8s client.Client, m *model, emu *eksemulator.Server, timeout time.Duration) error {
	start := time.Now()
	deadline, report := start.Add(timeout), start.Add(30*time.Second)
	for {
		list := &v1.AccessEntryList{}
		err := k8s.List(ctx, list)
		if err == nil {
			var notReady []string
			for _, ae := range list.Items {
				if _, live := m.live[ae.Name]; !live {
					notReady = append(notReady, ae.Name+" (deleted, still there)")
					continue
				}
				c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
				reason := m.expectedReason(m.live[ae.Name])
				if c == nil || (reason == v1.ReasonSynced) != (c.Status == metav1.ConditionTrue) || c.Reason != reason || ae.Status.ObservedGeneration != ae.Generation {
					msg := "no status"
					if c != nil {
						msg = c.Reason + ": " + c.Message
					}
					notReady = append(notReady, ae.Name+" ("+msg+")")
					continue
				}
				for _, e := range emu.Entries(m.accountOf(ae.Spec.ClusterName), region, ae.Spec.ClusterName) {
					if e.PrincipalARN == ae.Spec.PrincipalARN && e.PrincipalStale {
						notReady = append(notReady, ae.Name+" (its entry is bound to a principal since re-created in IAM)")
					}
				}
			}
			// A rule change reaches every object at once, and a principal check within a verification period (20s).
			m.final = map[string]v1.AccessEntry{}
			for _, ae := range list.Items {
				m.final[ae.Name] = ae
			}
			if len(notReady) == 0 && len(list.Items) == len(m.live) && time.Since(m.rulesChanged) > 25*time.Second {
				say("quiescent after %s", time.Since(start).Round(time.Second))
				return nil
			}
			if time.Now().After(report) {
				report = time.Now().Add(30 * time.Second)
				sort.Strings(notReady)
				say("after %s, %d objects not quiescent, e.g. %v", time.Since(start).Round(time.Second), len(notReady), notReady[:min(3, len(notReady))])
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not quiescent after %s: %d objects, %d live in the model; not ready: %v", timeout, len(list.Items), len(m.live), notReady)
			}
		} else if time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}

// check compares what EKS holds with the model and the unowned snapshot.
func (m *model) check(emu *eksemulator.Server, unowned []eksemulator.Entry, c *counts) error {
	var problems []string
	held := map[string]eksemulator.Entry{}
	for _, cl := range clusters {
		for _, acct := range []string{account, otherAccount} {
			for _, e := range emu.Entries(acct, region, cl) {
				held[key(acct, cl, e.PrincipalARN)] = e
			}
		}
	}
	for _, u := range unowned {
		k := ""
		for hk, e := range held {
			if e.AccessEntryARN == u.AccessEntryARN {
				k = hk
			}
		}
		c.invariants++
		if k == "" || fmt.Sprint(held[k]) != fmt.Sprint(u) {
			problems = append(problems, "an unowned entry was changed or deleted: "+u.PrincipalARN)
			continue
		}
		delete(held, k)
	}
	for _, ae := range m.live {
		k := key(m.accountOf(ae.Spec.ClusterName), ae.Spec.ClusterName, ae.Spec.PrincipalARN)
		e, ok := held[k]
		v := m.verdict(ae)
		if m.expectedReason(ae) == v1.ReasonInvalidSpec {
			// Refused by EKS: nothing may be left of it in either account.
			if ok && !m.retained[k] {
				problems = append(problems, ae.Name+": EKS refuses a node role of another account, yet holds an entry for "+k)
			}
			delete(held, k)
			continue
		}
		c.invariants++
		switch {
		case v != nil && !v.EntryAllowed:
			// Nothing forbidden remains: no entry at all.
			if ok && !m.retained[k] {
				problems = append(problems, fmt.Sprintf("%s: refused (%s), but EKS holds an entry for %s", ae.Name, v.Message(), k))
			}
			delete(held, k)
			continue
		case !ok && v != nil && !v.Allowed():
			// Refused before it was ever created: nothing granted.
			continue
		case !ok:
			problems = append(problems, ae.Name+": no entry for "+k)
			continue
		}
		delete(held, k)
		delete(m.retained, k)
		problems = append(problems, m.matches(ae, e, v, c)...)
	}
	for k := range held {
		c.invariants++
		if !m.retained[k] {
			problems = append(problems, orphaned+k)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		var names []string
		for _, p := range problems {
			name, _, _ := strings.Cut(p, ":")
			if strings.HasPrefix(p, orphaned) {
				// The objects that ever named the principal.
				names = append(names, m.declared[p[strings.LastIndex(p, " ")+1:]]...)
				continue
			}
			names = append(names, name)
		}
		slices.Sort(names)
		names = slices.Compact(names)
		for _, name := range names {
			for _, h := range m.history[name] {
				problems = append(problems, "    "+name+": "+h)
			}
			if ae, ok := m.final[name]; ok {
				problems = append(problems, fmt.Sprintf("    %s: at the end %s, identity %+v, retained %+v, revoked %q",
					name, conditionsOf(ae), ae.Status.Identity, ae.Status.RetainedEntries, ae.Status.Revoked))
			}
		}
		return &brokenInvariants{problems: problems, names: names}
	}
	return nil
}

// orphaned starts the problem of an entry nothing accounts for.
const orphaned = "an entry no live object declares and no Retain keeps: "

// brokenInvariants is what check found wrong, and the objects concerned.
type brokenInvariants struct {
	problems, names []string
}

func (b *brokenInvariants) Error() string {
	return fmt.Sprintf("%d invariants broken:\n  %s", len(b.problems), strings.Join(b.problems, "\n  "))
}

// eventsOf lists, oldest first, the events the operator recorded about the named
// objects, in every namespace the soak uses: with the histories, they tell what
// the operator did in the runs whose logs are gone.
func eventsOf(ctx context.Context, k8s client.Client, names []string) []string {
	var out []string
	for _, ns := range append([]string{namespace}, tenants...) {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return append(out, "listing events: "+err.Error())
		}
		slices.SortFunc(list.Items, func(a, b eventsv1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
		for _, e := range list.Items {
			if slices.Contains(names, e.Regarding.Name) && e.Regarding.Namespace == ns {
				out = append(out, fmt.Sprintf("    %s: event %s %s %s: %s", e.Regarding.Name, e.CreationTimestamp.UTC().Format(time.TimeOnly), e.Type, e.Reason, e.Note))
			}
		}
	}
	return out
}

// countTenants counts how the tenant objects ended: allowed, refused, revoked.
func (m *model) countTenants(ctx context.Context, k8s client.Client, c *counts) error {
	for _, ns := range tenants {
		list := &v1.AccessEntryList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, ae := range list.Items {
			switch {
			case meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionReady):
				c.tenants.allowed++
			case len(ae.Status.Revoked) > 0:
				c.tenants.refused++
				c.tenants.revoked++
			default:
				c.tenants.refused++
			}
		}
	}
	return nil
}

// matches lists how an EKS entry differs from its object's spec or, for a refused
// tenant object (v not allowed), from what its rule allows of the spec: nothing
// forbidden remains, and what is allowed is kept. The soak judges with its own
// comparison (ekscheck), not the operator's plan, so that a bug in the plan shows.
func (m *model) matches(ae *v1.AccessEntry, e eksemulator.Entry, v *guardrails.Verdict, c *counts) []string {
	var out []string
	want := ae
	if v != nil && !v.Allowed() {
		want = m.allowedOf(ae)
	}
	c.invariants += 6 // type, username, groups, tags, policies, bound to the current principal
	if e.PrincipalStale {
		out = append(out, fmt.Sprintf("%s: the entry is bound to a principal since re-created in IAM", ae.Name))
	}
	return append(out, ekscheck.Differences(want, e, instance)...)
}

// allowedOf is what a refused tenant object, whose entry its rule still admits,
// keeps in EKS: its spec with the username (then EKS derives one), the groups and
// the policies the rule does not allow taken out. Each is judged alone, as an
// object asking for it and nothing else; the soak's rule sets hold one rule each,
// so that is the verdict's rule.
func (m *model) allowedOf(ae *v1.AccessEntry) *v1.AccessEntry {
	allows := func(ask func(*v1.AccessEntrySpec)) bool {
		one := ae.DeepCopy()
		one.Spec.Username, one.Spec.KubernetesGroups, one.Spec.AccessPolicies = "", nil, nil
		ask(&one.Spec)
		return m.verdict(one).Allowed()
	}
	out := ae.DeepCopy()
	if out.Spec.Username != "" && !allows(func(s *v1.AccessEntrySpec) { s.Username = ae.Spec.Username }) {
		out.Spec.Username = ""
	}
	out.Spec.KubernetesGroups = slices.DeleteFunc(out.Spec.KubernetesGroups, func(g v1.KubernetesGroup) bool {
		return !allows(func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{g} })
	})
	out.Spec.AccessPolicies = slices.DeleteFunc(out.Spec.AccessPolicies, func(p v1.AccessPolicy) bool {
		return !allows(func(s *v1.AccessEntrySpec) { s.AccessPolicies = []v1.AccessPolicy{p} })
	})
	return out
}

func report(c counts, emu *eksemulator.Server, live int) {
	var ops []string
	for k, n := range c.ops {
		ops = append(ops, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ops)
	faults, throttled, total, iamReads := 0, 0, 0, 0
	for op, outcomes := range emu.Calls() {
		if !eksemulator.IsEKS(op) {
			if op == "GetRole" || op == "GetUser" {
				for _, n := range outcomes {
					iamReads += n
				}
			}
			continue
		}
		for outcome, n := range outcomes {
			total += n
			switch outcome {
			case "ServerException":
				faults += n
			case "ThrottlingException":
				throttled += n
			}
		}
	}
	fmt.Printf("\nsoak passed\n  operations: %s\n  EKS calls: %d, 500s injected: %d, throttled: %d; IAM principal reads: %d\n  operator SIGKILLs: %d, kube-apiserver restarts: %d\n  live objects at the end: %d (tenants' allowed %d, refused %d, of which %d had something revoked), invariants checked: %d\n",
		strings.Join(ops, " "), total, faults, throttled, iamReads, c.kills, c.restarts, live, c.tenants.allowed, c.tenants.refused, c.tenants.revoked, c.invariants)
}

func conditionsOf(ae v1.AccessEntry) string {
	var out []string
	for _, c := range ae.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(out, "; ")
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}
