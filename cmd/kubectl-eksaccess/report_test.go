package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/controllers"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/report"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	rAccount   = "111122223333"
	rRegion    = "us-west-2"
	rCluster   = "audit"
	rNamespace = "eks-access-system"
	policyARN  = "arn:aws:eks::aws:cluster-access-policy/"
)

func role(name string) string { return "arn:aws:iam::" + rAccount + ":role/" + name }

// reportWorld is a cluster holding declared, EKS-made and unmanaged entries, an
// admin-equivalent one of each origin, and one declared entry escalated out of
// band (drifted), with the operator stopped so that the drift stays. It returns
// the World and the run's flags.
func reportWorld(t *testing.T) (*testenv.World, []string) {
	t.Helper()
	testenv.RequireControlPlane(t)
	isolateAWS(t)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: rCluster, Account: rAccount, Region: rRegion,
			AuthenticationMode: eksemulator.ModeAPI, CreatorAdmin: role("cluster-creator"),
			NodeGroups: []eksemulator.NodeGroupConfig{{Name: "workers", NodeRoleARN: role("workers")}}},
			// A cluster no ClusterAccessConfig names: the trusted namespace's objects need none.
			{Name: "plain", Account: rAccount, Region: rRegion, AuthenticationMode: eksemulator.ModeAPI}}},
		Operator: operatorBinary(t), WorkDir: t.TempDir(), Region: rRegion,
		OperatorArgs: []string{"--resync-period=3s", "--instance-id=report-test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	t.Setenv("POD_NAMESPACE", rNamespace)
	ctx := context.Background()
	if err := w.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rNamespace}}); err != nil {
		t.Fatal(err)
	}
	if err := w.StartOperator(); err != nil {
		t.Fatal(err)
	}
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: rCluster}, Spec: v1.ClusterAccessConfigSpec{ClusterName: rCluster, Region: rRegion}}
	until := metav1.NewTime(time.Now().Add(48 * time.Hour).Truncate(time.Second))
	objects := []*v1.AccessEntry{
		declare("admins", role("platform-admin"), "AmazonEKSClusterAdminPolicy"),
		declare("viewers", role("viewers"), "AmazonEKSViewPolicy", "team-a"),
		declare("drifter", role("drifter"), "AmazonEKSViewPolicy", "team-b"),
		declare("oncall", role("oncall"), "AmazonEKSViewPolicy"),
		declare("scoped-editor", role("scoped-editor"), "AmazonEKSEditPolicy", "team-c"),
	}
	objects[3].Spec.ExpiresAt = &until
	// A grant that ends during the setup (revoked: it holds nothing, and has no
	// row), and one whose end passes while the operator is down (overdue).
	brief := declare("brief", role("brief"), "AmazonEKSClusterAdminPolicy")
	soon := metav1.NewTime(time.Now().Add(5 * time.Second))
	brief.Spec.ExpiresAt = &soon
	overdue := declare("overdue", role("overdue"), "AmazonEKSViewPolicy")
	overdue.Spec.ExpiresAt = &until
	objects = append(objects, brief, overdue)
	plain := declare("plain-viewers", role("viewers"), "AmazonEKSViewPolicy")
	plain.Spec.ClusterName = "plain"
	objects = append(objects, plain)
	if err := w.Client.Create(ctx, cac); err != nil {
		t.Fatal(err)
	}
	for _, ae := range objects {
		if err := w.Client.Create(ctx, ae); err != nil {
			t.Fatal(err)
		}
	}
	api := emulatorEKS(w.Emulator.URL())
	outOfBand(t, api, role("hand-made-admin"), "AmazonEKSAdminPolicy")
	outOfBand(t, api, role("hand-made-viewer"), "AmazonEKSViewPolicy")
	// Cluster-admin made by hand minutes after the cluster, as a Terraform apply
	// does: it looks like the creator's entry, and is not.
	outOfBand(t, api, role("terraform-admin"), "AmazonEKSClusterAdminPolicy")
	// Admin made by hand to pass for EKS's: a component's policy beside it, or
	// Secrets read alone (a policy EKS's components also hold).
	outOfBand(t, api, role("masquerade"), "AmazonEKSArgoCDClusterPolicy", "AmazonEKSAdminPolicy")
	outOfBand(t, api, role("secret-reader"), "AmazonEKSSecretReaderPolicy")
	// Pods anywhere reach every Secret: a HyperPod policy EKS's components hold.
	outOfBand(t, api, role("hyperpod"), "AmazonSagemakerHyperpodTrainingPolicy")
	for _, ae := range objects {
		testenv.Eventually(t, 60*time.Second, ae.Name+" Ready", func() (bool, string) {
			got := &v1.AccessEntry{}
			if err := w.Client.Get(ctx, client.ObjectKeyFromObject(ae), got); err != nil {
				return false, err.Error()
			}
			if ae == brief {
				c := meta.FindStatusCondition(got.Status.Conditions, v1.ConditionReady)
				return c != nil && c.Reason == v1.ReasonExpired, fmt.Sprint(got.Status.Conditions)
			}
			return meta.IsStatusConditionTrue(got.Status.Conditions, v1.ConditionReady) && got.Status.LastVerifiedAt != nil, fmt.Sprint(got.Status.Conditions)
		})
	}
	testenv.Eventually(t, 60*time.Second, "the ClusterAccessConfig to list the unmanaged entries", func() (bool, string) {
		got := &v1.ClusterAccessConfig{}
		if err := w.Client.Get(ctx, client.ObjectKeyFromObject(cac), got); err != nil {
			return false, err.Error()
		}
		return len(got.Status.UnmanagedEntries) == 8, fmt.Sprint(got.Status.UnmanagedEntries)
	})
	w.StopOperator()
	past := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	patch := client.MergeFrom(overdue.DeepCopy())
	overdue.Spec.ExpiresAt = &past
	if err := w.Client.Patch(ctx, overdue, patch); err != nil {
		t.Fatal(err)
	}
	// Escalated out of band: an admin-equivalent policy added, and one's scope
	// widened from a namespace to the cluster.
	for _, principal := range []string{role("drifter"), role("scoped-editor")} {
		if _, err := api.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(rCluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(policyARN + "AmazonEKSEditPolicy"), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
	}
	return w, []string{"report", "--kubeconfig", w.Kubeconfig, "--endpoint-url", w.Emulator.URL(), "--sts-endpoint-url", w.Emulator.URL()}
}

func declare(name, principal, policy string, namespaces ...string) *v1.AccessEntry {
	scope := v1.AccessScope{Type: v1.AccessScopeCluster}
	if len(namespaces) > 0 {
		scope = v1.AccessScope{Type: v1.AccessScopeNamespace}
		for _, n := range namespaces {
			scope.Namespaces = append(scope.Namespaces, v1.ScopeNamespace(n))
		}
	}
	return &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rNamespace}, Spec: v1.AccessEntrySpec{
		ClusterName: rCluster, Region: rRegion, PrincipalARN: principal,
		AccessPolicies: []v1.AccessPolicy{{PolicyARN: policyARN + policy, AccessScope: scope}}}}
}

func emulatorEKS(url string) *eks.Client {
	return eks.New(eks.Options{Region: rRegion, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTESTING", "secret", "")})
}

// outOfBand makes an entry as a person with the console would.
func outOfBand(t *testing.T, api *eks.Client, principal string, policies ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := api.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(rCluster), PrincipalArn: aws.String(principal)}); err != nil {
		t.Fatal(err)
	}
	for _, policy := range policies {
		if _, err := api.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(rCluster), PrincipalArn: aws.String(principal),
			PolicyArn: aws.String(policyARN + policy), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}}); err != nil {
			t.Fatal(err)
		}
	}
}

// reportJSON runs the report with -o json and decodes its rows.
func reportJSON(t *testing.T, args ...string) (int, []report.Row, string) {
	t.Helper()
	code, out, errOut := runCLI(t, append(args, "-o", "json")...)
	var doc struct{ Rows []report.Row }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("report -o json: %v\n%s\n%s", err, out, errOut)
	}
	return code, doc.Rows, errOut
}

// rowOf finds the row of a principal and policy (name, "" for none).
func rowOf(rows []report.Row, principal, policy string) *report.Row {
	for i := range rows {
		if rows[i].Principal == principal && rows[i].Policy == policy {
			return &rows[i]
		}
	}
	return nil
}

func TestReport(t *testing.T) {
	w, args := reportWorld(t)
	w.Emulator.ResetCalls()
	code, rows, errOut := reportJSON(t, args...)
	if code != exitOK {
		t.Fatalf("report exits %d\n%s", code, errOut)
	}
	t.Run("rows", func(t *testing.T) { checkRows(t, rows) })
	t.Run("cheap", func(t *testing.T) {
		// Described: the escalated entry (its status no longer agrees with the
		// listings), the one holding a namespaced admin-equivalent policy (its
		// scope may have been widened), the overdue one (changed since its
		// status), the creator's and the five hand-made admins'. Never the
		// declared entries whose status stands, nor the unmanaged viewer.
		calls := w.Emulator.CallsOf(rAccount)
		if calls["DescribeAccessEntry"] != 9 || calls["ListAccessEntries"] != 2*10 || calls["DescribeCluster"] != 1 {
			t.Errorf("calls: %v; want 9 DescribeAccessEntry, one ListAccessEntries per admin-equivalent policy (10) and cluster (2), and one DescribeCluster", calls)
		}
	})
	t.Run("formats", func(t *testing.T) { checkFormats(t, args, len(rows)) })
	t.Run("filters", func(t *testing.T) { checkFilters(t, args, rows) })
	t.Run("fail-on", func(t *testing.T) { checkFailOn(t, args) })
	t.Run("operator's gauge", func(t *testing.T) {
		// What the operator recorded before it stopped: the two declared admins
		// (cluster-admin, a namespace's Edit), the creator's entry (EKS's) and
		// the five hand-made admins'.
		var entries v1.AccessEntryList
		var configs v1.ClusterAccessConfigList
		if err := w.Client.List(context.Background(), &entries); err != nil {
			t.Fatal(err)
		}
		if err := w.Client.List(context.Background(), &configs); err != nil {
			t.Fatal(err)
		}
		got := controllers.CountAdminHolders(entries.Items, configs.Items)
		want := map[controllers.HolderKey]int{{Cluster: rCluster, Region: rRegion, Origin: controllers.OriginDeclared}: 2,
			{Cluster: rCluster, Region: rRegion, Origin: controllers.OriginEKS}: 1, {Cluster: rCluster, Region: rRegion, Origin: controllers.OriginUnmanaged}: 5,
			// The cluster no config names holds no admin: its series are 0.
			{Cluster: "plain", Region: rRegion, Origin: controllers.OriginDeclared}: 0, {Cluster: "plain", Region: rRegion, Origin: controllers.OriginEKS}: 0,
			{Cluster: "plain", Region: rRegion, Origin: controllers.OriginUnmanaged}: 0}
		if !maps.Equal(got, want) {
			t.Errorf("admin holders %v, want %v; unmanaged entries %+v", got, want, configs.Items[0].Status.UnmanagedEntries)
		}
	})
	t.Run("live", func(t *testing.T) {
		code, live, errOut := reportJSON(t, append(args, "--live")...)
		if code != exitOK {
			t.Fatalf("report --live exits %d\n%s", code, errOut)
		}
		if r := rowOf(live, role("hand-made-viewer"), "AmazonEKSViewPolicy"); r == nil || r.Source != report.FromEKS || r.Origin != report.Unmanaged {
			t.Errorf("--live reads the unmanaged viewer's policy from EKS: %+v", r)
		}
		if r := rowOf(live, role("viewers"), "AmazonEKSViewPolicy"); r == nil || r.Source != report.FromEKS || r.Matches != report.Matches {
			t.Errorf("--live reads the declared viewers from EKS, matching: %+v", r)
		}
	})
}

func checkRows(t *testing.T, rows []report.Row) {
	for _, c := range []struct {
		principal, policy   string
		origin              report.Origin
		admin               bool
		matches, source, in string
	}{
		{role("platform-admin"), "AmazonEKSClusterAdminPolicy", report.Declared, true, report.Matches, report.FromStatus, ""},
		{role("viewers"), "AmazonEKSViewPolicy", report.Declared, false, report.Matches, report.FromStatus, ""},
		{role("drifter"), "AmazonEKSEditPolicy", report.Declared, true, report.Drifted, report.FromEKS, "holds AmazonEKSEditPolicy, which is not declared"},
		{role("drifter"), "AmazonEKSViewPolicy", report.Declared, false, report.Drifted, report.FromEKS, ""},
		{role("cluster-creator"), "AmazonEKSClusterAdminPolicy", report.MadeByEKS, true, "", report.FromEKS, "creator"},
		{role("hand-made-admin"), "AmazonEKSAdminPolicy", report.Unmanaged, true, "", report.FromEKS, "no AccessEntry declares it"},
		{role("terraform-admin"), "AmazonEKSClusterAdminPolicy", report.Unmanaged, true, "", report.FromEKS, "the creator's entry is " + role("cluster-creator")},
		{role("masquerade"), "AmazonEKSAdminPolicy", report.Unmanaged, true, "", report.FromEKS, "no AccessEntry declares it"},
		{role("masquerade"), "AmazonEKSArgoCDClusterPolicy", report.Unmanaged, false, "", report.FromEKS, "no AccessEntry declares it"},
		{role("secret-reader"), "AmazonEKSSecretReaderPolicy", report.Unmanaged, true, "", report.FromEKS, "no AccessEntry declares it"},
		{role("hyperpod"), "AmazonSagemakerHyperpodTrainingPolicy", report.Unmanaged, true, "", report.FromEKS, "no AccessEntry declares it"},
		{role("scoped-editor"), "AmazonEKSEditPolicy", report.Declared, true, report.Drifted, report.FromEKS, "the scope of AmazonEKSEditPolicy is cluster, declared namespace:team-c"},
		{role("hand-made-viewer"), "", report.Unmanaged, false, "", report.FromConfigStatus, "Kept"},
		{role("workers"), "", report.MadeByEKS, false, "", report.FromConfigStatus, "EC2_LINUX"},
	} {
		r := rowOf(rows, c.principal, c.policy)
		if r == nil {
			t.Errorf("no row for %s %s in %+v", c.principal, c.policy, rows)
			continue
		}
		if r.Origin != c.origin || r.Admin != c.admin || r.Matches != c.matches || r.Source != c.source || !strings.Contains(r.Why+r.Drift, c.in) ||
			r.Cluster != rCluster || r.Account != rAccount || r.Region != rRegion {
			t.Errorf("%s %s: %+v; want origin %s, admin %v, matches %q, source %s, detail with %q", c.principal, c.policy, *r, c.origin, c.admin, c.matches, c.source, c.in)
		}
	}
	if r := rowOf(rows, role("oncall"), "AmazonEKSViewPolicy"); r == nil || r.Until == nil || r.Object != rNamespace+"/oncall" {
		t.Errorf("the time-bound grant's row says until when, and its object: %+v", r)
	}
	if r := rowOf(rows, role("overdue"), "AmazonEKSViewPolicy"); r == nil || r.Matches != report.Drifted || !strings.Contains(r.Drift, "and EKS still holds it") {
		t.Errorf("the grant past its end that EKS still holds is drifted: %+v", r)
	}
	if slices.ContainsFunc(rows, func(r report.Row) bool { return r.Principal == role("brief") }) {
		t.Errorf("the expired grant the operator revoked has rows: %+v", rows)
	}
	if r := rowOf(rows, role("viewers"), "AmazonEKSViewPolicy"); r == nil || r.Scope != "namespace:team-a" || r.Username == "" {
		t.Errorf("the viewers' row: %+v", r)
	}
	if n := countRows(rows, rCluster); n != 16 {
		t.Errorf("%d rows of cluster %s, want 16: %+v", n, rCluster, rows)
	}
	// The cluster no config names is read too, through the identity the operator recorded.
	if n := countRows(rows, "plain"); n != 1 || !slices.ContainsFunc(rows, func(r report.Row) bool {
		return r.Cluster == "plain" && r.Object == rNamespace+"/plain-viewers" && r.Matches == report.Matches
	}) {
		t.Errorf("cluster plain: %d rows, want its one object's: %+v", n, rows)
	}
}

func checkFormats(t *testing.T, args []string, n int) {
	_, out, _ := runCLI(t, append(args, "-o", "csv")...)
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(records) != n+1 || records[0][0] != "cluster" || !slices.Contains(records[0], "admin_why") {
		t.Errorf("csv: %d records (want %d and a header), %v\n%s", len(records), n+1, err, out)
	}
	_, out, _ = runCLI(t, append(args, "-o", "markdown")...)
	if lines := countPrefix(out, "| "); lines != n+2 || !strings.HasPrefix(out, "# EKS access report") {
		t.Errorf("markdown: %d table lines, want %d\n%s", lines, n+2, out)
	}
	code, out, _ := runCLI(t, args...)
	if lines := strings.Count(out, "\n"); code != exitOK || lines != n+1 || !strings.HasPrefix(out, "CLUSTER") || !strings.Contains(out, "hand-made-admin") {
		t.Errorf("table: exit %d, %d lines, want %d\n%s", code, lines, n+1, out)
	}
	if code, _, errOut := runCLI(t, append(args, "-o", "yaml")...); code != exitUsage || !strings.Contains(errOut, "table, csv, json, markdown") {
		t.Errorf("-o yaml: exit %d, %s", code, errOut)
	}
}

func countRows(rows []report.Row, cluster string) int {
	n := 0
	for _, r := range rows {
		if r.Cluster == cluster {
			n++
		}
	}
	return n
}

func countPrefix(s, prefix string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func checkFilters(t *testing.T, args []string, all []report.Row) {
	_, admin, _ := reportJSON(t, append(args, "--admin")...)
	if len(admin) != 9 || slices.ContainsFunc(admin, func(r report.Row) bool { return !r.Admin }) {
		t.Errorf("--admin: %+v", admin)
	}
	_, unmanaged, _ := reportJSON(t, append(args, "--unmanaged")...)
	if len(unmanaged) != 7 || slices.ContainsFunc(unmanaged, func(r report.Row) bool { return r.Origin != report.Unmanaged }) {
		t.Errorf("--unmanaged: %+v", unmanaged)
	}
	if _, rows, _ := reportJSON(t, append(args, "--cluster", rCluster, "--account", rAccount)...); len(rows) != countRows(all, rCluster) || countRows(rows, rCluster) != len(rows) {
		t.Errorf("--cluster and --account of the cluster: %d rows, want its %d", len(rows), countRows(all, rCluster))
	}
	if _, rows, _ := reportJSON(t, append(args, "--account", "444455556666")...); len(rows) != 0 {
		t.Errorf("--account of another account: %+v", rows)
	}
}

func checkFailOn(t *testing.T, args []string) {
	for _, c := range []struct {
		failOn    string
		code      int
		want, not []string
	}{
		{"unmanaged-admin", exitFindings, []string{"hand-made-admin", "terraform-admin", "masquerade", "secret-reader", "hyperpod"}, []string{"cluster-creator holds", "drifter"}},
		{"undeclared-admin", exitFindings, []string{"hand-made-admin", "cluster-creator"}, []string{"drifter"}},
		{"drift", exitFindings, []string{"drifter", "scoped-editor"}, []string{"hand-made-admin"}},
		{"no-such-thing", exitUsage, []string{"unmanaged-admin, undeclared-admin, drift"}, nil},
	} {
		code, _, errOut := runCLI(t, append(args, "--fail-on", c.failOn)...)
		if code != c.code {
			t.Errorf("--fail-on %s: exit %d, want %d\n%s", c.failOn, code, c.code, errOut)
		}
		for _, s := range c.want {
			if !strings.Contains(errOut, s) {
				t.Errorf("--fail-on %s: standard error does not name %s\n%s", c.failOn, s, errOut)
			}
		}
		for _, s := range c.not {
			if strings.Contains(errOut, s) {
				t.Errorf("--fail-on %s: standard error names %s\n%s", c.failOn, s, errOut)
			}
		}
	}
	// Filtered out, a row is not a finding: --fail-on judges what is printed.
	if code, _, errOut := runCLI(t, append(args, "--fail-on", "unmanaged-admin", "--account", "444455556666")...); code != exitOK {
		t.Errorf("--fail-on with every row filtered out: exit %d\n%s", code, errOut)
	}
}

// operatorBinary builds the operator for the test.
func operatorBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eks-access-operator")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	return bin
}
