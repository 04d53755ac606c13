package onboard

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/controllers"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	adminPolicy     = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	adminViewPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
	editPolicy      = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
	viewPolicy      = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	autoNodePolicy  = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"
	instanceID      = "onboard-test"
	importNS        = "imported"
)

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// seedEntry is an entry the test makes in the emulator, as a person or another tool
// would have, through the real SDK client.
type seedEntry struct {
	principal, typ, username string
	groups                   []string
	tags                     map[string]string
	policies                 map[string][]string // policy ARN -> namespaces (none: cluster scope)
}

func seed(t *testing.T, cl *eks.Client, cluster string, entries []seedEntry) {
	t.Helper()
	ctx := context.Background()
	for _, e := range entries {
		in := &eks.CreateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(e.principal), KubernetesGroups: e.groups, Tags: e.tags}
		if e.typ != "" {
			in.Type = aws.String(e.typ)
		}
		if e.username != "" {
			in.Username = aws.String(e.username)
		}
		if _, err := cl.CreateAccessEntry(ctx, in); err != nil {
			t.Fatalf("seeding %s: %v", e.principal, err)
		}
		for _, arn := range slices.Sorted(maps.Keys(e.policies)) {
			scope := &types.AccessScope{Type: types.AccessScopeTypeCluster}
			if ns := e.policies[arn]; len(ns) > 0 {
				scope = &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: ns}
			}
			if _, err := cl.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
				ClusterName: aws.String(cluster), PrincipalArn: aws.String(e.principal), PolicyArn: aws.String(arn), AccessScope: scope,
			}); err != nil {
				t.Fatalf("seeding %s: %v", e.principal, err)
			}
		}
	}
}

// The entries of cluster demo: what a cluster looks like before onboarding.
// developersRole is the role IAM Identity Center made for permission set
// Developers (the suite's emulator holds it).
var developersRole = roleARN("aws-reserved/sso.amazonaws.com/AWSReservedSSO_Developers_0123456789abcdef")

var demoEntries = []seedEntry{
	{principal: roleARN("platform-admins"), tags: map[string]string{"team": "platform"}, policies: map[string][]string{adminPolicy: nil}},
	{
		principal: "arn:aws:iam::444455556666:role/ci/deployer", username: "ci-deployer", groups: []string{"release", "deployers"},
		policies: map[string][]string{viewPolicy: {"team-*", "apps"}, editPolicy: {"apps"}},
	},
	{
		principal: developersRole, username: "developer:{{SessionName}}",
		groups: []string{"developers"}, tags: map[string]string{"cost-center": "1234", "owner": "dev team"},
		policies: map[string][]string{editPolicy: {"team-a", "team-a-*"}, viewPolicy: nil},
	},
	{principal: "arn:aws:iam::" + account + ":user/alice", policies: map[string][]string{adminViewPolicy: nil}},
	{principal: "arn:aws:iam::" + account + ":user/ops/bob", username: "bob", groups: []string{"ops"}},
	{principal: roleARN("eks-nodes"), typ: "EC2_LINUX"},
	{principal: roleARN("windows-nodes"), typ: "EC2_WINDOWS", tags: map[string]string{"nodegroup": "windows"}},
	{principal: roleARN("fargate-pods"), typ: "FARGATE_LINUX"},
	{principal: roleARN("auto-mode-nodes"), typ: "EC2", policies: map[string][]string{autoNodePolicy: nil}},
	{
		principal: roleARN("owned-elsewhere"), groups: []string{"owned"},
		tags: map[string]string{"eksaccess.io/instance": "other", "eksaccess.io/namespace": "teams", "eksaccess.io/name": "owned"},
	},
}

// The objects the import must print for demoEntries (with --include-node-types),
// in the order it prints them.
func wantImported() []Object {
	adopt := map[string]string{v1.AdoptAnnotation: "true"}
	obj := func(name string, spec v1.AccessEntrySpec) Object {
		spec.ClusterName, spec.Region = "demo", region
		return Object{Name: name, Namespace: importNS, Annotations: adopt, Spec: spec}
	}
	cluster := v1.AccessScope{Type: v1.AccessScopeCluster}
	ns := func(n ...v1.ScopeNamespace) v1.AccessScope {
		return v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: n}
	}
	return []Object{
		obj("demo-alice", v1.AccessEntrySpec{
			PrincipalARN:   "arn:aws:iam::" + account + ":user/alice",
			AccessPolicies: []v1.AccessPolicy{{PolicyARN: adminViewPolicy, AccessScope: cluster}},
		}),
		obj("demo-auto-mode-nodes", v1.AccessEntrySpec{
			PrincipalARN: roleARN("auto-mode-nodes"), Type: v1.TypeEC2,
			AccessPolicies: []v1.AccessPolicy{{PolicyARN: autoNodePolicy, AccessScope: cluster}},
		}),
		obj("demo-bob", v1.AccessEntrySpec{
			PrincipalARN: "arn:aws:iam::" + account + ":user/ops/bob", Username: "bob", KubernetesGroups: []v1.KubernetesGroup{"ops"},
		}),
		obj("demo-deployer-444455556666", v1.AccessEntrySpec{
			PrincipalARN: "arn:aws:iam::444455556666:role/ci/deployer", Username: "ci-deployer",
			KubernetesGroups: []v1.KubernetesGroup{"deployers", "release"},
			AccessPolicies: []v1.AccessPolicy{
				{PolicyARN: editPolicy, AccessScope: ns("apps")},
				{PolicyARN: viewPolicy, AccessScope: ns("apps", "team-*")},
			},
		}),
		obj("demo-developers", v1.AccessEntrySpec{
			IdentityCenter: &v1.IdentityCenterPrincipal{PermissionSet: "Developers"},
			Username:       "developer:{{SessionName}}", KubernetesGroups: []v1.KubernetesGroup{"developers"},
			AccessPolicies: []v1.AccessPolicy{
				{PolicyARN: editPolicy, AccessScope: ns("team-a", "team-a-*")},
				{PolicyARN: viewPolicy, AccessScope: cluster},
			},
			Tags: map[string]v1.TagValue{"cost-center": "1234", "owner": "dev team"},
		}),
		obj("demo-eks-nodes", v1.AccessEntrySpec{PrincipalARN: roleARN("eks-nodes"), Type: v1.TypeEC2Linux}),
		obj("demo-fargate-pods", v1.AccessEntrySpec{PrincipalARN: roleARN("fargate-pods"), Type: v1.TypeFargateLinux}),
		obj("demo-platform-admins", v1.AccessEntrySpec{
			PrincipalARN:   roleARN("platform-admins"),
			AccessPolicies: []v1.AccessPolicy{{PolicyARN: adminPolicy, AccessScope: cluster}},
			Tags:           map[string]v1.TagValue{"team": "platform"},
		}),
		obj("demo-windows-nodes", v1.AccessEntrySpec{
			PrincipalARN: roleARN("windows-nodes"), Type: v1.TypeEC2Windows, Tags: map[string]v1.TagValue{"nodegroup": "windows"},
		}),
	}
}

const wantImportReport = `kubectl eksaccess import: cluster demo (us-west-2): 9 of 10 access entries imported, 1 left out

arn:aws:iam::111122223333:role/owned-elsewhere (STANDARD)
  not imported: already managed by AccessEntry teams/owned (operator instance other); nothing to import

Before applying:
  - Every object carries eksaccess.io/adopt: "true" and holds what EKS holds. Applied, each costs one write: the operator tags the entry with its three eksaccess.io/ ownership tags (one TagResource call) and changes nothing else.
  - deletionPolicy is left at its default, Delete: deleting an object deletes its access entry. Set deletionPolicy: Retain on the entries that must outlive their object (node roles, the break-glass administrator).
  - 1 entries are for IAM Identity Center roles (permission sets Developers): their objects name the permission set (spec.identityCenter), and the operator finds the role in IAM (iam:ListRoles), also after the set is provisioned again with a new role; --keep-arns writes the role ARNs instead.
`

// readOps are the only EKS operations an import may call.
var readOps = []string{"ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies"}

func TestImportThenAdoptWritesOnlyOwnershipTags(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	seed(t, emuClient(), "demo", demoEntries)
	before := emu.Entries(account, region, "demo")

	// Import: pages of 2 so that every list call paginates.
	emu.ResetCalls()
	res, err := Import(ctx, emuClient(), ImportOptions{Cluster: "demo", Region: region, Namespace: importNS, IncludeNodeTypes: true, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for op := range emu.Calls() {
		if !slices.Contains(readOps, op) {
			t.Fatalf("the import called %s (calls %v); it may only read", op, emu.Calls())
		}
	}
	if n := calls("ListAccessEntries"); n != 5 {
		t.Fatalf("%d ListAccessEntries calls for 10 entries in pages of 2, want 5", n)
	}
	if n := calls("ListAssociatedAccessPolicies"); n != 6 {
		t.Fatalf("%d ListAssociatedAccessPolicies calls, want one for each of the 5 unowned STANDARD entries and the EC2 one", n)
	}
	if want := wantImported(); !equality.Semantic.DeepEqual(res.Objects, want) {
		t.Fatalf("imported objects:\n%s\nwant:\n%s", yamlOf(t, res.Objects), yamlOf(t, want))
	}
	var report bytes.Buffer
	if err := res.Report.Write(&report); err != nil {
		t.Fatal(err)
	}
	if report.String() != wantImportReport {
		t.Fatalf("report:\n%s\nwant:\n%s", report.String(), wantImportReport)
	}
	// --keep-arns: the role's ARN, as EKS holds it.
	kept, err := Import(ctx, emuClient(), ImportOptions{Cluster: "demo", Region: region, Namespace: importNS, IncludeNodeTypes: true, KeepARNs: true})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(kept.Objects, func(o Object) bool { return o.Name == "demo-developers" }); i < 0 ||
		kept.Objects[i].Spec.PrincipalARN != developersRole || kept.Objects[i].Spec.IdentityCenter != nil {
		t.Fatalf("with KeepARNs: %s", yamlOf(t, kept.Objects))
	}

	// Apply what was printed, with the real manager running.
	objs := parseDocuments(t, yamlOf(t, res.Objects))
	emu.ResetCalls()
	stop := startManager(t)
	defer stop()
	for _, ae := range objs {
		if err := k8s.Create(ctx, ae); err != nil {
			t.Fatalf("applying %s: %v", ae.Name, err)
		}
	}
	for _, ae := range objs {
		waitReady(t, ae, 60*time.Second)
	}

	// The accounting: no write but one TagResource an entry (the ownership tags).
	got := emu.Calls()
	t.Logf("EKS calls while the operator adopted %d entries: %v", len(objs), got)
	for _, op := range []string{"UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy", "DisassociateAccessPolicy", "UntagResource"} {
		if n := calls(op); n != 0 {
			t.Errorf("%d %s calls; adopting an imported entry needs none (calls %v)", n, op, got)
		}
	}
	if tags := got["TagResource"]; tags["OK"] != len(objs) || len(tags) != 1 {
		t.Errorf("TagResource calls %v, want exactly %d, all OK (one for each adopted entry)", tags, len(objs))
	}
	// Reads: the entry before adopting it and the read-back before Ready, no more.
	if n := calls("DescribeAccessEntry"); n > 2*len(objs) {
		t.Errorf("%d DescribeAccessEntry calls to adopt %d entries, want at most 2 each (calls %v)", n, len(objs), got)
	}
	if creates := got["CreateAccessEntry"]; len(creates) != 0 {
		t.Errorf("CreateAccessEntry calls %v: an object made to adopt must read its entry, not try to create it", creates)
	}

	// The entries are unchanged but for the ownership tags of their object.
	names := map[string]string{}
	for _, ae := range objs {
		principal := ae.Spec.PrincipalARN
		if ae.Spec.IdentityCenter != nil {
			principal = developersRole
		}
		names[principal] = ae.Name
	}
	after := emu.Entries(account, region, "demo")
	if len(after) != len(before) {
		t.Fatalf("%d entries before, %d after", len(before), len(after))
	}
	for i, b := range before {
		a := after[i]
		want := b
		if name, adopted := names[b.PrincipalARN]; adopted {
			want.Tags = maps.Clone(b.Tags)
			maps.Copy(want.Tags, map[string]string{"eksaccess.io/instance": instanceID, "eksaccess.io/namespace": importNS, "eksaccess.io/name": name})
		}
		if fmt.Sprint(stable(a)) != fmt.Sprint(stable(want)) {
			t.Errorf("entry of %s changed:\n before %+v\n after  %+v\n want   %+v", b.PrincipalARN, stable(b), stable(a), stable(want))
		}
	}
}

// stable is an emulator entry without what changes by itself (visibility).
func stable(e eksemulator.Entry) eksemulator.Entry {
	e.Visible, e.VisibleAt = false, time.Time{}
	return e
}

func TestImportLeavesOutNodeEntriesByDefault(t *testing.T) {
	testenv.RequireControlPlane(t)
	tags := map[string]string{}
	for i := range 48 {
		tags[fmt.Sprintf("k%02d", i)] = "v"
	}
	seed(t, emuClient(), "edge", []seedEntry{
		{principal: roleARN("edge-nodes"), typ: "EC2_LINUX"},
		{principal: roleARN("edge-hybrid"), typ: "HYBRID_LINUX"},
		{principal: roleARN("heavily-tagged"), tags: tags},
		{principal: roleARN("edge-viewers"), groups: []string{"viewers"}},
	})
	res, err := Import(context.Background(), emuClient(), ImportOptions{Cluster: "edge", Region: region, Namespace: importNS})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Name != "edge-viewers" {
		t.Fatalf("objects:\n%s\nwant only edge-viewers", yamlOf(t, res.Objects))
	}
	var report bytes.Buffer
	if err := res.Report.Write(&report); err != nil {
		t.Fatal(err)
	}
	want := `kubectl eksaccess import: cluster edge (us-west-2): 1 of 4 access entries imported, 3 left out

arn:aws:iam::111122223333:role/edge-hybrid (HYBRID_LINUX)
  not imported: a node entry (EKS sets its username and groups, and made it itself for managed node groups and Fargate profiles); run again with --include-node-types to import it

arn:aws:iam::111122223333:role/edge-nodes (EC2_LINUX)
  not imported: a node entry (EKS sets its username and groups, and made it itself for managed node groups and Fargate profiles); run again with --include-node-types to import it

arn:aws:iam::111122223333:role/heavily-tagged (STANDARD)
  not imported: the entry has 48 tags; adopting it adds 3 ownership tags and EKS allows 50: remove 1 tags first

Before applying:
  - Every object carries eksaccess.io/adopt: "true" and holds what EKS holds. Applied, each costs one write: the operator tags the entry with its three eksaccess.io/ ownership tags (one TagResource call) and changes nothing else.
  - deletionPolicy is left at its default, Delete: deleting an object deletes its access entry. Set deletionPolicy: Retain on the entries that must outlive their object (node roles, the break-glass administrator).
`
	if report.String() != want {
		t.Fatalf("report:\n%s\nwant:\n%s", report.String(), want)
	}
	dryRunApply(t, parseDocuments(t, yamlOf(t, res.Objects)))
}

func TestImportErrors(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	_, err := Import(ctx, emuClient(), ImportOptions{Cluster: "legacy", Region: region, Namespace: importNS})
	if err == nil || !strings.Contains(err.Error(), "migrate-aws-auth") {
		t.Fatalf("import of a CONFIG_MAP cluster: %v, want a pointer to migrate-aws-auth", err)
	}
	_, err = Import(ctx, emuClient(), ImportOptions{Cluster: "missing", Region: region, Namespace: importNS})
	if err == nil || !strings.Contains(err.Error(), "EKS has no cluster missing in region us-west-2") {
		t.Fatalf("import of a missing cluster: %v", err)
	}
	_, err = Import(ctx, emuClient(), ImportOptions{Cluster: "demo", Region: region, Namespace: "Bad_Namespace"})
	if err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("import into an invalid namespace: %v", err)
	}
}

func calls(op string) int {
	n := 0
	for _, c := range emu.Calls()[op] {
		n += c
	}
	return n
}

// startManager runs the real manager with the AccessEntry controller against the
// emulator, as controllers/suite_test.go does, and returns the function that stops it.
func startManager(t *testing.T) func() {
	t.Helper()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 newScheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	awsOpts := awsapi.DefaultOptions()
	awsOpts.Endpoint, awsOpts.STSEndpoint, awsOpts.IAMEndpoint = emu.URL(), emu.URL(), emu.URL()
	sched := budget.New(budget.Options{QPS: 20, Burst: 20}.WithDefaults())
	clients, err := awsapi.NewClients(awsConfig(), awsOpts, sched)
	if err != nil {
		t.Fatal(err)
	}
	opts := controllers.DefaultEntryOptions()
	opts.TrustedNamespaces, opts.InstanceID, opts.DefaultRegion = []string{importNS}, instanceID, region
	opts.VerifyPeriod, opts.StallAfter, opts.RecheckInterval, opts.MaxConcurrentReconciles = 10*time.Minute, time.Minute, 2*time.Second, 2
	suspects := controllers.NewSuspects()
	r := &controllers.AccessEntryReconciler{
		Deps:           controllers.Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("eks-access-operator"), AWS: clients},
		EntryOptions:   opts,
		Suspects:       suspects,
		Sweeper:        &controllers.Sweeper{Client: mgr.GetClient(), AWS: clients, Suspects: suspects},
		PermissionSets: clients,
	}
	if err := controllers.IndexFields(context.Background(), mgr); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(sched); err != nil {
		t.Fatal(err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() { cancel(); <-done }
}

// waitReady waits until the object's current generation is Ready.
func waitReady(t *testing.T, ae *v1.AccessEntry, timeout time.Duration) {
	t.Helper()
	key := client.ObjectKeyFromObject(ae)
	eventually(t, timeout, key.String()+" to be Ready", func() (bool, string) {
		cur := &v1.AccessEntry{}
		if err := k8s.Get(context.Background(), key, cur); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(cur.Status.Conditions, v1.ConditionReady)
		if c == nil {
			return false, "no Ready condition"
		}
		return c.Status == metav1.ConditionTrue && cur.Status.ObservedGeneration == cur.Generation, c.Reason + ": " + c.Message
	})
}
