package controllers

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/health"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The suite runs the real manager against a real kube-apiserver (envtest) and the
// EKS emulator over HTTP, through the real SDK client.
const (
	account  = "111122223333"
	region   = "us-west-2"
	testNS   = "teams"
	instance = "test-instance"
	// remoteAccount holds a cluster reached only through an assumed role.
	remoteAccount = "444455556666"
	// shardLabel splits objects between the suite's manager and the fast-resync
	// manager of the drift test, as --selector does in production; no manager
	// watches shard=paused, which stands for an operator that is down; shard=logged
	// is the manager whose logs the security test reads; shard=principals is the
	// manager that checks principals with IAM every second.
	shardLabel = "test.eksaccess.io/shard"
)

var (
	// k8s is the tests' own client, as a cluster admin.
	k8s     client.Client
	restCfg *rest.Config
	// managerCfg is the identity every manager of the suite runs as: the
	// ServiceAccount config/rbac binds the generated manager-role to, and no more.
	managerCfg  *rest.Config
	managerRBAC *testenv.ManagerRBAC
	// suiteEnv is the control plane, for the users tests add.
	suiteEnv *envtest.Environment
	emu      *eksemulator.Server
	// admin is an SDK client of the emulator for the tests' own out-of-band changes.
	admin *eks.Client
)

func TestMain(m *testing.M) {
	if testenv.Fuzzing() || testenv.UnitOnly() {
		os.Exit(m.Run())
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restCfg, suiteEnv = cfg, env
	if managerCfg, managerRBAC, err = testenv.ManagerConfig(context.Background(), env, cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// config/default's admission policy, so that only the operator (and
	// system:masters, as the tests' own client is) removes its finalizer.
	if err := installAdmission(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	emu, err = eksemulator.New(eksemulator.Config{
		Clusters: append([]eksemulator.ClusterConfig{
			{Name: "demo", Account: account, Region: region, AuthenticationMode: "API_AND_CONFIG_MAP"},
			{Name: "other", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "legacy", Account: account, Region: region, AuthenticationMode: "CONFIG_MAP"},
			{Name: "modeswitch", Account: account, Region: region, AuthenticationMode: "CONFIG_MAP"},
			{Name: "configmap-only", Account: account, Region: region, AuthenticationMode: "CONFIG_MAP"},
			{Name: "guarded", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "pruned", Account: account, Region: region, AuthenticationMode: "API", CreatorAdmin: roleARN("cluster-creator")},
			{Name: "remote", Account: remoteAccount, Region: region, AuthenticationMode: "API"},
			{Name: "tenancy", Account: account, Region: region, AuthenticationMode: "API", CreatorAdmin: roleARN("tenancy-creator"),
				Capabilities: []eksemulator.CapabilityConfig{{Name: "kro", Type: "KRO", RoleARN: roleARN("tenancy-kro")}}},
			{Name: "tightened", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "shielded", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "retained-home", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "retained-away", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "finalized", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "retain-guard", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "leftover", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "unshielded", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "churn", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "prod", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "prod", Account: remoteAccount, Region: region, AuthenticationMode: "API"},
			{Name: "prod", Account: account, Region: "eu-west-1", AuthenticationMode: "API"},
			{Name: "sharded", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "requests", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "fanout", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-first", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-leftover", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-conflict", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-retained", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "backlog", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-shared", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "limits", Account: account, Region: region, AuthenticationMode: "API", MaxAccessEntries: 4},
			{Name: "redteam", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "redteam-shield", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "siblings", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "siblings-selected", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "expired-shield", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-spelling", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "claims-node-case", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "sso", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "sso-tenants", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "sso-shared", Account: account, Region: region, AuthenticationMode: "API"},
			{Name: "sso-platform", Account: account, Region: region, AuthenticationMode: "API"},
		}, fidelityClusters()...),
		Roles:          fidelityRoles(),
		UpdateDuration: time.Second,
		Seed:           1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = emu.Close() }()
	admin = eks.NewFromConfig(awsConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })

	scheme := newScheme()
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The suite's own manager takes the objects no test gave a shard of its own.
	stop, err := testManager{selector: "!" + shardLabel, resync: 10 * time.Minute, clusterConfigs: true, requests: true}.start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func installAdmission(cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	return testenv.InstallAdmission(context.Background(), c, managerRBAC.Username())
}

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	return scheme
}

func awsConfig() aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTESTING", "secret", ""),
	}
}

// startManager runs a manager with the AccessEntry and ClusterAccessConfig
// controllers (the latter when clusterConfigs) for the AccessEntries matching
// selector, and returns the function that stops it. tune changes the AccessEntry
// reconciler's settings.
func startManager(selector string, resync time.Duration, clusterConfigs bool, tune ...func(*AccessEntryReconciler)) (func(), error) {
	return testManager{selector: selector, resync: resync, clusterConfigs: clusterConfigs, tune: tune}.start()
}

// testManager is a manager of the suite, the one place the tests assemble the
// operator: the services and reconcilers as main.go builds them. Every one runs
// as managerCfg, with the operator's RBAC.
type testManager struct {
	// selector picks the AccessEntries of the manager's cache; empty: all.
	selector string
	resync   time.Duration
	// clusterConfigs runs the ClusterAccessConfig controller; configsOnly runs
	// it without the AccessEntry controller.
	clusterConfigs, configsOnly bool
	// tune changes the AccessEntry reconciler's settings and services (its Deps
	// are the ClusterAccessConfig controller's and the sweeper's too).
	tune []func(*AccessEntryReconciler)
	// logger receives the manager's logs; the zero value discards them.
	logger logr.Logger
	// name, when set, is the event recorder's name of the manager's
	// ClusterAccessConfig controller, to tell its events from other managers'.
	name string
	// sweep, when set, runs the Sweeper with this period over the watched policies;
	// watchedSweep, when set, is the period of its watched-policy listings.
	sweep        time.Duration
	watchedSweep time.Duration
	watched      []string
	// requests runs the AccessRequest controller.
	requests bool
	// events, with a QueueURL, runs the event reader on that queue, as
	// --events-queue-url does.
	events EventOptions
	// eventSweeps, when set, are the sweeps' periods while events arrive.
	eventSweeps time.Duration
}

func (tm testManager) recorder() string {
	if tm.name != "" {
		return tm.name
	}
	return "eks-access-operator"
}

// testClients are the AWS side as main.go builds it, on an endpoint that serves
// EKS, STS and IAM (the emulator), metered by a budget of b (nil: unmetered).
func testClients(cfg aws.Config, endpoint string, b *budget.Options, mutate ...func(*awsapi.Options)) *awsapi.Clients {
	opts := awsapi.DefaultOptions()
	opts.Endpoint, opts.STSEndpoint, opts.IAMEndpoint = endpoint, endpoint, endpoint
	for _, m := range mutate {
		m(&opts)
	}
	var s *budget.Scheduler
	if b != nil {
		s = budget.New(b.WithDefaults())
	}
	c, err := awsapi.NewClients(cfg, opts, s)
	if err != nil {
		panic(err)
	}
	return c
}

// testEntryOptions are the AccessEntry controller's options in the suite.
func testEntryOptions(resync time.Duration) EntryOptions {
	o := DefaultEntryOptions()
	o.TrustedNamespaces, o.InstanceID, o.DefaultRegion = []string{testNS}, instance, region
	o.VerifyPeriod, o.StallAfter, o.RecheckInterval, o.MaxConcurrentReconciles = resync, time.Minute, 2*time.Second, 4
	return o
}

// testOperator is a built test manager and the reconcilers it runs.
type testOperator struct {
	mgr     ctrl.Manager
	entries *AccessEntryReconciler
	configs *ClusterAccessConfigReconciler
	events  *EventReader
}

// build makes the manager and the reconcilers it runs.
func (tm testManager) build() (*testOperator, error) {
	cacheOpts, shard := cache.Options{DefaultTransform: CacheTransform()}, labels.Everything()
	if tm.selector != "" {
		sel, err := labels.Parse(tm.selector)
		if err != nil {
			return nil, err
		}
		cacheOpts.ByObject, shard = map[client.Object]cache.ByObject{&v1.AccessEntry{}: {Label: sel}}, sel
	}
	mgr, err := ctrl.NewManager(managerCfg, ctrl.Options{
		Scheme:                 newScheme(),
		Logger:                 tm.logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cacheOpts,
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	op := &testOperator{mgr: mgr}
	suspects := NewSuspects()
	r := &AccessEntryReconciler{
		Deps: Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("eks-access-operator"),
			AWS: testClients(awsConfig(), emu.URL(), &budget.Options{QPS: 20, Burst: 20})},
		EntryOptions: testEntryOptions(tm.resync),
		Suspects:     suspects,
	}
	for _, t := range tm.tune {
		t(r)
	}
	sweeps := SweepOptions{Period: cmp.Or(tm.sweep, time.Hour), WatchedPeriod: cmp.Or(tm.watchedSweep, tm.sweep, time.Hour), WatchedPolicies: tm.watched, Settle: time.Second}
	r.Sweeper = &Sweeper{SweepOptions: sweeps, Client: mgr.GetClient(), AWS: r.AWS, Suspects: suspects}
	steps := []func() error{func() error { return IndexFields(context.Background(), mgr) }}
	if s := r.AWS.Budget(); s != nil {
		steps = append(steps, func() error { return mgr.Add(s) })
	}
	if !tm.configsOnly {
		steps = append(steps, func() error { return r.SetupWithManager(mgr) })
	}
	if tm.clusterConfigs || tm.configsOnly {
		configs := DefaultConfigOptions()
		configs.CommonOptions, configs.ResyncPeriod, configs.PollInterval = r.CommonOptions, tm.resync, 500*time.Millisecond
		configs.Selector, configs.InstanceID = shard, r.InstanceID
		d := r.Deps
		d.Recorder = mgr.GetEventRecorder(tm.recorder())
		op.configs = &ClusterAccessConfigReconciler{Deps: d, ConfigOptions: configs}
		steps = append(steps, func() error { return op.configs.SetupWithManager(mgr) })
	}
	if tm.requests {
		requests := &AccessRequestReconciler{Deps: r.Deps, DefaultRegion: region, TrustedNamespaces: r.TrustedNamespaces}
		steps = append(steps, func() error { return requests.SetupWithManager(mgr) })
	}
	if tm.events.QueueURL != "" {
		queue, err := r.AWS.Queue(tm.events.QueueURL, region)
		if err != nil {
			return nil, err
		}
		hints := NewPruneHints()
		op.events = &EventReader{EventOptions: tm.events, Client: mgr.GetClient(), AWS: r.AWS, Queue: queue, Suspects: suspects,
			Prunes: hints, Sweeper: r.Sweeper, DefaultRegion: region}
		r.Events, r.Sweeper.Events = op.events, op.events
		r.Sweeper.EventsPeriod = cmp.Or(tm.eventSweeps, time.Hour)
		r.Sweeper.EventsWatchedPeriod = r.Sweeper.EventsPeriod
		if op.configs != nil {
			op.configs.Hints = hints
		}
		steps = append(steps, func() error { return mgr.Add(op.events) })
	}
	if tm.sweep > 0 {
		steps = append(steps, func() error { return mgr.Add(r.Sweeper) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	op.entries = r
	return op, nil
}

// start runs the manager and returns the function that stops it.
func (tm testManager) start() (func(), error) {
	op, err := tm.build()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- op.mgr.Start(ctx) }()
	return func() { cancel(); <-done }, nil
}

// startFor runs the manager for the rest of a test, and returns it once its
// cache is in sync.
func (tm testManager) startFor(t *testing.T) *testOperator {
	t.Helper()
	op, err := tm.build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- op.mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !op.mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	return op
}

// entry is a STANDARD AccessEntry for the demo cluster; name and principal are unique per test.
func entry(name, principal string, mutate ...func(*v1.AccessEntry)) *v1.AccessEntry {
	ae := &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec: v1.AccessEntrySpec{
			ClusterName:  "demo",
			PrincipalARN: principal,
		},
	}
	for _, m := range mutate {
		m(ae)
	}
	return ae
}

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// create creates ae and deletes it (waiting until it is gone) when the test ends,
// so that no test leaves work behind for the next one.
func create(t *testing.T, ae *v1.AccessEntry) {
	t.Helper()
	if err := k8s.Create(context.Background(), ae); err != nil {
		t.Fatalf("creating %s: %v", ae.Name, err)
	}
	key := client.ObjectKeyFromObject(ae)
	t.Cleanup(func() { deleteAndWait(t, key) })
}

func deleteAndWait(t *testing.T, key client.ObjectKey) {
	t.Helper()
	ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	if err := k8s.Delete(context.Background(), ae); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("deleting %s: %v", key, err)
	}
	// An object deleted moments after its create was sent waits, at most the
	// consistency window (30s), for an entry EKS may not show yet.
	eventually(t, 60*time.Second, "object "+key.String()+" to be gone", func() (bool, string) {
		cur := &v1.AccessEntry{}
		err := k8s.Get(context.Background(), key, cur)
		if err == nil {
			return false, conditions(cur)
		}
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// eventually polls cond until it holds or the timeout passes.
var eventually = testenv.Eventually

func get(t *testing.T, key client.ObjectKey) *v1.AccessEntry {
	t.Helper()
	ae := &v1.AccessEntry{}
	if err := k8s.Get(context.Background(), key, ae); err != nil {
		t.Fatalf("getting %s: %v", key, err)
	}
	return ae
}

// waitReady waits until the object's current generation is Ready and returns it.
func waitReady(t *testing.T, ae *v1.AccessEntry, timeout time.Duration) *v1.AccessEntry {
	t.Helper()
	key := client.ObjectKeyFromObject(ae)
	var cur *v1.AccessEntry
	eventually(t, timeout, key.String()+" to be Ready", func() (bool, string) {
		cur = get(t, key)
		c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		ok := c != nil && c.Status == metav1.ConditionTrue && cur.Status.ObservedGeneration == cur.Generation
		return ok, conditions(cur)
	})
	return cur
}

// waitReason waits until Ready=False with the given reason and returns the object.
// A refusal (NotPermitted) counts once it is Stalled: while Reconciling, what the
// entry holds is still to be revoked.
func waitReason(t *testing.T, ae *v1.AccessEntry, reason string, timeout time.Duration) *v1.AccessEntry {
	t.Helper()
	key := client.ObjectKeyFromObject(ae)
	var cur *v1.AccessEntry
	eventually(t, timeout, key.String()+" to be Ready=False "+reason, func() (bool, string) {
		cur = get(t, key)
		c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		pending := reason == v1.ReasonNotPermitted && meta.IsStatusConditionTrue(cur.Status.Conditions, v1.ConditionReconciling)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && !pending, conditions(cur)
	})
	return cur
}

func conditions(ae *v1.AccessEntry) string {
	var b strings.Builder
	for _, c := range ae.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s (%s: %s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

// update applies mutate to the latest version of the object.
func update(t *testing.T, ae *v1.AccessEntry, mutate func(*v1.AccessEntry)) *v1.AccessEntry {
	t.Helper()
	cur := get(t, client.ObjectKeyFromObject(ae))
	mutate(cur)
	if err := k8s.Update(context.Background(), cur); err != nil {
		t.Fatalf("updating %s: %v", ae.Name, err)
	}
	return cur
}

// emuEntry is the entry the emulator holds for a principal in a cluster.
func emuEntry(cluster, principal string) (eksemulator.Entry, bool) {
	return holdingOf(emu, account, cluster, principal)
}

// holdingOf is the entry an emulator's cluster holds for the principal.
func holdingOf(e *eksemulator.Server, acct, cluster, principal string) (eksemulator.Entry, bool) {
	return e.Entry(acct, region, cluster, principal)
}

func mustEmuEntry(t *testing.T, cluster, principal string) eksemulator.Entry {
	t.Helper()
	e, ok := emuEntry(cluster, principal)
	if !ok {
		t.Fatalf("the emulator holds no entry for %s in %s", principal, cluster)
	}
	return e
}

// calls counts the emulator's calls of an operation, all outcomes together.
func calls(op string) int {
	n := 0
	for _, c := range emu.Calls()[op] {
		n += c
	}
	return n
}

// writes counts every call that changes EKS.
func writes() int {
	n := 0
	for _, op := range []string{"CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy",
		"DisassociateAccessPolicy", "TagResource", "UntagResource"} {
		n += calls(op)
	}
	return n
}

// wantHealth reads the live object from the API server and checks what Flux
// (kstatus) and Argo CD (the shipped Lua health check) make of it.
func wantHealth(t *testing.T, ae *v1.AccessEntry, wantKstatus kstatus.Status, wantArgo string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1.GroupVersion.WithKind("AccessEntry"))
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ae), u); err != nil {
		t.Fatal(err)
	}
	res, err := kstatus.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	argo, err := health.ArgoCD(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != wantKstatus || argo.Status != wantArgo {
		t.Fatalf("health of %s: kstatus %s (%s), Argo CD %s (%s); want %s and %s",
			ae.Name, res.Status, res.Message, argo.Status, argo.Message, wantKstatus, wantArgo)
	}
}
