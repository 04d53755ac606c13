// Command soak runs the operator, as its own process, against a real kube-apiserver
// and an EKS emulator that fails (500s, throttling, latency, eventual consistency),
// while a driver creates, updates, moves and deletes AccessEntries at random, in
// the trusted namespace and in tenant namespaces held to guardrail rules that it
// tightens and loosens; it re-points one cluster's ClusterAccessConfig to a
// same-named cluster in a second account and back, and deletes and re-creates
// another's; and the operator is SIGKILLed and restarted, and kube-apiserver
// restarted once. Alongside, an adversary acts as the tenants, through clients
// with only a tenant's RBAC (attacks.go): it removes finalizers, deletes under
// Retain, squats on the platform's, protected and other tenants' principals,
// reaches for a prefix-named sibling namespace's values, fills its quota and
// storms principals another object holds; a probe tenant times how long an
// allowed object waits meanwhile. A requester asks for time-bound ClusterAdmin
// grants and an approver approves, denies or ignores them (requests.go), so
// that grants expire at random moments amid all of it.
//
// After quiescence it checks that EKS holds exactly what the allowed objects
// declare, in the account their cluster resolves to and in no other, and, for the
// refused ones, nothing the rules forbid; that nothing is left of deleted objects
// or old identities (but what Retain keeps); that entries no operator owns were
// not touched; that every object is Ready or NotPermitted as the rules say; that
// the operator never panicked; that nothing a request granted remains once its
// expiry passed, and nothing unapproved ever reached EKS; and the tenancy invariants of judge.go, judged
// from EKS's state and the rules as the platform wrote them. An invariant only a
// guard this build lacks keeps (features.go) is reported as awaiting it.
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

type options struct {
	objects  int
	duration time.Duration
	kills    int
	operator string
	seed     uint64
	settle   time.Duration
	// attackRate is the share of steps, in percent, the adversary takes.
	attackRate int
	// floods are how many times a tenant fills its quota; flood is how many objects each time.
	floods, flood int
	// probeEvery is how often the probe tenant creates an object; probeBound is
	// how long one may wait for Ready.
	probeEvery, probeBound time.Duration
	// strict fails the run on invariants that only a missing guard breaks.
	strict bool
	// requestEvery is how often the requester asks for a grant (and the approver
	// decides one), for the first requestsFor of the drive, each for a
	// duration between shortest and longest.
	requestEvery, requestsFor, shortest, longest time.Duration
	// reprovisionEvery is how often, on average, a permission set is
	// provisioned again.
	reprovisionEvery time.Duration
}

func main() {
	var o options
	short := flag.Bool("short", false, "the short variant for make test: 40 objects, 60s, 4 kills, one flood")
	flag.IntVar(&o.objects, "objects", 200, "AccessEntries alive at most at once")
	flag.DurationVar(&o.duration, "duration", 4*time.Minute, "how long the driver changes things")
	flag.IntVar(&o.kills, "kills", 12, "how many times the operator is SIGKILLed and restarted")
	flag.StringVar(&o.operator, "operator", "bin/eks-access-operator", "the operator binary")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the driver and the emulator's faults")
	flag.DurationVar(&o.settle, "settle", 4*time.Minute, "how long quiescence may take")
	flag.IntVar(&o.attackRate, "attack-rate", 35, "share of the steps, in percent, the tenants' adversary takes")
	flag.IntVar(&o.floods, "floods", 2, "how many times a tenant fills its quota")
	flag.IntVar(&o.flood, "flood", 30, "objects a tenant creates at once to fill its quota (the default limit is 25)")
	flag.DurationVar(&o.probeEvery, "probe-every", 5*time.Second, "how often the probe tenant creates an allowed object")
	flag.DurationVar(&o.probeBound, "probe-bound", 60*time.Second, "how long a probe object may wait to be Ready")
	flag.DurationVar(&o.requestEvery, "request-every", 6*time.Second, "how often a time-bound grant is asked for (and one decided)")
	flag.DurationVar(&o.requestsFor, "requests-for", 3*time.Minute, "how long into the drive grants are asked for")
	flag.DurationVar(&o.shortest, "shortest-grant", time.Minute, "the shortest duration asked for (the API's minimum is 1m)")
	flag.DurationVar(&o.longest, "longest-grant", 2*time.Minute, "the longest duration asked for")
	flag.DurationVar(&o.reprovisionEvery, "reprovision-every", 15*time.Second, "how often, on average, a permission set is provisioned again (a new role)")
	flag.BoolVar(&o.strict, "strict", true, "fail on invariants that only a guard this build lacks keeps (--strict=false reports them as awaited)")
	flag.Parse()
	if *short {
		o.objects, o.duration, o.kills, o.floods, o.probeEvery = 40, 60*time.Second, 4, 1, 3*time.Second
		o.requestEvery, o.requestsFor, o.longest = 3*time.Second, 30*time.Second, 70*time.Second
		o.reprovisionEvery = 8 * time.Second
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
	// expired counts the live objects checked as expired: none may hold an entry.
	expired int
	// tenants counts the tenant objects at the end: allowed, refused, and refused
	// with something revoked from EKS.
	tenants struct{ allowed, refused, revoked int }
	// tenancy counts the tenancy invariants checked, by name.
	tenancy map[string]int
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
	c := counts{ops: map[string]int{}, tenancy: map[string]int{}}

	say("starting etcd and kube-apiserver")
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Seed: int64(o.seed), Clusters: []eksemulator.ClusterConfig{
			{Name: clusters[0], Account: account, Region: region, AuthenticationMode: "API"},
			{Name: clusters[1], Account: account, Region: region, AuthenticationMode: "API"},
			{Name: clusters[0], Account: otherAccount, Region: region, AuthenticationMode: "API"},
		}, PermissionSets: permissionSets},
		Operator: o.operator,
		WorkDir:  work,
		Region:   region,
		OperatorArgs: []string{"--principal-check-interval=5s", "--iam-qps=50", "--verification-period=20s", "--sweep-period=5s", "--background-qps=10", "--trusted-namespaces=" + namespace + "," + ssoNS,
			"--eks-qps=50", "--eks-burst=50", // above EKS's rate: throttling happens
			"--instance-id=" + instance},
		// A request in flight while kube-apiserver restarts must fail, not hang the driver.
		ClientTimeout: 10 * time.Second,
		// The operator's own RBAC, and the identity an admission policy exempts.
		AsManager: true,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	emu, logPath := w.Emulator, w.OperatorLog

	unowned, err := seedUnowned(emu)
	if err != nil {
		return err
	}
	faults := eksemulator.Faults{FaultRate: 0.05, RateLimit: 25, Burst: 25, MaxJitter: 200 * time.Millisecond,
		ConsistencyDelay: 3 * time.Second, ConsistencyRandom: true}
	emu.SetFaults(faults)
	say("EKS emulator faults: 5%% 500s, %v requests/s, latency up to %s, consistency delay up to %s", faults.RateLimit, faults.MaxJitter, faults.ConsistencyDelay)

	ctx := context.Background()
	m, err := newModel(ctx, w)
	if err != nil {
		return err
	}
	if m.reqs, err = newRequests(ctx, w, o.shortest, o.longest); err != nil {
		return err
	}
	if m.sso, err = newSSOSets(ctx, w.Client, emu); err != nil {
		return err
	}
	say("guards of issue 25 in this build: %s", m.feat.present())
	for _, g := range m.feat.gaps() {
		say("missing: %s; the invariants it keeps are reported as awaiting it", g)
	}
	if err := w.StartOperator(); err != nil {
		return err
	}
	probe := startProbe(ctx, m.client(probeNS))
	defer probe.stop()
	m.probe = probe
	if err := drive(ctx, w, m, probe, rng, o, &c); err != nil {
		return err
	}

	if last := m.lastExpiry(); time.Now().Before(last) {
		// Every expiry behind the check, so that none falls while it reads EKS.
		say("waiting %s for the last grant's expiry", time.Until(last).Round(time.Second))
		time.Sleep(time.Until(last))
	}
	if err := m.reqs.awaitExpiries(ctx, w.Client, 3*time.Minute); err != nil {
		return err
	}
	say("quiescence: faults off, waiting for every object to be Ready (Synced or Expired) or NotPermitted and every deletion to finish")
	emu.SetFaults(eksemulator.Faults{})
	k8s := w.Client
	if err := settle(ctx, k8s, m, emu, o.settle); err != nil {
		return err
	}
	probe.stop()
	var broken []string
	if err := m.check(emu, unowned, &c); err != nil {
		b, ok := errors.AsType[*brokenInvariants](err)
		if !ok {
			return err
		}
		broken = append(b.problems, eventsOf(ctx, k8s, b.names)...)
	}
	reqProblems, reqSummary, err := m.reqs.check(ctx, k8s, emu, &c)
	if err != nil {
		return err
	}
	broken = append(broken, reqProblems...)
	// The sets were last provisioned again within the drive: each object has
	// had a principal check (5s) and a listing (15s) since quiescence began.
	c.invariants++
	broken = append(broken, m.sso.await(ctx, k8s, m, 2*time.Minute)...)
	judged := m.judgeTenancy(&c)
	judged = append(judged, probe.judge(o.probeBound, &c)...)
	hard, awaiting := split(judged, m.feat, o.strict)
	broken = append(broken, hard...)
	if err := m.countTenants(ctx, k8s, &c); err != nil {
		return err
	}
	logText, _ := os.ReadFile(logPath)
	c.invariants++
	if bytes.Contains(logText, []byte("panic")) {
		broken = append(broken, fmt.Sprintf("the operator log (%s) shows a panic", logPath))
	}
	m.finalAttacks(&c)
	report(c, emu, m, probe.summary(o.probeBound), awaiting)
	fmt.Printf("  time-bound grants: %s\n", reqSummary)
	fmt.Printf("  permission sets: %s\n", m.sso.summary())
	if len(broken) > 0 {
		return fmt.Errorf("%d invariants broken:\n  %s", len(broken), strings.Join(broken, "\n  "))
	}
	return nil
}

// newModel creates the namespaces, the tenants' users and the clusters'
// ClusterAccessConfigs, and finds out which guards the build has.
func newModel(ctx context.Context, w *testenv.World) (*model, error) {
	k8s := w.Client
	for _, ns := range append([]string{namespace, probeNS, requestNS, ssoNS}, tenants...) {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
	}
	m := &model{live: map[string]*v1.AccessEntry{}, retained: map[string]bool{}, history: map[string][]string{}, declared: map[string][]string{},
		rules: map[string]string{}, emu: w.Emulator, left: map[string]leftEntry{}, tenantKeys: map[string]string{},
		attacks: map[string]int{}, attackOf: map[string]string{}, probes: map[string]bool{}, stripped: map[string]bool{}, keysOf: map[string][]string{}}
	var err error
	if m.feat, err = detectFeatures(ctx, k8s); err != nil {
		return nil, err
	}
	if m.clients, err = tenantClients(ctx, w); err != nil {
		return nil, err
	}
	// The second cluster starts broad: the squatting attacks go there.
	for i, set := range []string{"loose", "broad"} {
		if err := createConfig(ctx, k8s, clusters[i], set, m.feat); err != nil {
			return nil, err
		}
		m.rules[clusters[i]] = set
	}
	return m, nil
}

// drive runs the driver, the adversary, the probe, the SIGKILLs and the
// kube-apiserver restart for o.duration.
func drive(ctx context.Context, w *testenv.World, m *model, probe *probe, rng *rand.Rand, o options, c *counts) error {
	say("driving %d objects for %s with %d operator kills, one kube-apiserver restart, the tenants' adversary on %d%% of the steps and %d floods of %d objects (operator log: %s)",
		o.objects, o.duration, o.kills, o.attackRate, o.floods, o.flood, w.OperatorLog)
	start := time.Now()
	killAt := make([]time.Duration, o.kills)
	for i := range killAt {
		slot := o.duration / time.Duration(o.kills)
		killAt[i] = time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)))
	}
	floodAt := make([]time.Duration, o.floods)
	for i := range floodAt {
		floodAt[i] = o.duration * time.Duration(i+1) / time.Duration(o.floods+1)
	}
	restartAt := o.duration / 2
	nextProbe, nextRequest, nextReprovision := time.Duration(0), time.Duration(0), o.reprovisionEvery

	for time.Since(start) < o.duration || len(killAt) > 0 {
		elapsed := time.Since(start)
		if len(killAt) > 0 && elapsed >= killAt[0] {
			killAt = killAt[1:]
			probe.down("operator SIGKILL")
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
			probe.down("kube-apiserver restart")
			if err := w.RestartAPIServer(); err != nil {
				return fmt.Errorf("restarting kube-apiserver: %w", err)
			}
			c.restarts++
		}
		if elapsed >= nextProbe && elapsed < o.duration {
			nextProbe = elapsed + o.probeEvery
			m.probeStep(ctx, probe)
		}
		if elapsed >= nextReprovision && elapsed < o.duration {
			// At random moments: sometimes twice within a principal check (5s).
			nextReprovision = elapsed + time.Duration(rng.Int64N(int64(2*o.reprovisionEvery)))
			kind, err := m.sso.step(rng)
			if err != nil {
				kind = "failed (" + kind + ")"
			}
			c.ops[kind]++
		}
		if elapsed >= nextRequest && elapsed < o.requestsFor {
			nextRequest = elapsed + o.requestEvery
			kind, err := m.reqs.step(ctx, rng)
			if err != nil {
				kind = "failed (" + kind + ")"
			}
			c.ops[kind]++
		}
		var kind string
		var err error
		switch {
		case len(floodAt) > 0 && elapsed >= floodAt[0]:
			floodAt = floodAt[1:]
			kind, err = m.flood(ctx, rng, o.flood)
		case rng.IntN(100) < o.attackRate:
			kind, err = m.attack(ctx, rng)
		default:
			kind, err = m.step(ctx, rng, o.objects)
		}
		if err != nil {
			c.ops["failed ("+kind+")"]++ // the API server may be restarting; the model was not changed
		} else {
			c.ops[kind]++
		}
		time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
	}
	return nil
}

// seedUnowned creates entries no operator owns; they must come through untouched.
func seedUnowned(emu *eksemulator.Server) ([]eksemulator.Entry, error) {
	cl := eks.NewFromConfig(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("soak", "soak", "")},
		func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
	ctx := context.Background()
	createProtected := func(ctx context.Context, cluster, p string) (*eks.CreateAccessEntryOutput, error) {
		return cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(p),
			KubernetesGroups: []string{"break-glass"}, Tags: map[string]string{"owner": "platform"}})
	}
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
	// The platform's break-glass entries, which protect names.
	for _, cl := range clusters {
		for _, p := range protected {
			if _, err := createProtected(ctx, cl, p); err != nil {
				return nil, err
			}
		}
	}
	var out []eksemulator.Entry
	for _, cl := range clusters {
		out = append(out, emu.Entries(account, region, cl)...)
	}
	return out, nil
}

func policyARN(name string) string { return "arn:aws:eks::aws:cluster-access-policy/" + name }

func report(c counts, emu *eksemulator.Server, m *model, probe string, awaiting []string) {
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
	tenancy := 0
	for _, n := range c.tenancy {
		tenancy += n
	}
	fmt.Printf("\nsoak finished\n  operations: %s\n  EKS calls: %d, 500s injected: %d, throttled: %d; IAM principal reads: %d\n  operator SIGKILLs: %d, kube-apiserver restarts: %d\n  live objects at the end: %d (tenants' allowed %d, refused %d, of which %d had something revoked; expired %d, holding nothing), invariants checked: %d, tenancy invariants checked: %d\n",
		counted(c.ops), total, faults, throttled, iamReads, c.kills, c.restarts, len(m.live), c.tenants.allowed, c.tenants.refused, c.tenants.revoked, c.expired, c.invariants, tenancy)
	fmt.Printf("  guards of issue 25 in this build: %s\n  attacks, and how the API server and the operator answered:\n    %s\n  tenancy invariants checked:\n    %s\n  probe: %s\n",
		m.feat.present(), strings.Join(lines(m.attacks), "\n    "), strings.Join(lines(c.tenancy), "\n    "), probe)
	if len(awaiting) > 0 {
		fmt.Printf("  BROKEN, awaiting a guard this build lacks (%d; --strict fails on them):\n    %s\n", len(awaiting), strings.Join(awaiting, "\n    "))
	}
}

// counted writes counts as k=n, sorted.
func counted(n map[string]int) string { return strings.Join(lines(n), " ") }

func lines(n map[string]int) []string {
	out := make([]string, 0, len(n))
	for _, k := range sortedKeys(n) {
		out = append(out, fmt.Sprintf("%s=%d", k, n[k]))
	}
	return out
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
