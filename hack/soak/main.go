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
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
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
