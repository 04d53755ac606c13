package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/accesspolicy"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
	accessreport "github.com/eksaccess/eks-access-operator/internal/report"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// ReportResult is what a report run measured: the default access report over
// clusters spread over accounts, against the floor that EKS's per-account rate
// sets for the calls it made.
type ReportResult struct {
	Machine   string  `json:"machine"`
	Date      string  `json:"date"`
	Clusters  int     `json:"clusters"`
	Accounts  int     `json:"accounts"`
	Entries   int     `json:"entriesPerCluster"`
	Rate      float64 `json:"rate"`
	Burst     int     `json:"burst"`
	LatencyMS int64   `json:"latencyMs"`
	// The mix of each cluster: declared by AccessEntries, unmanaged holding an
	// admin-equivalent policy, other unmanaged; plus the creator's entry.
	Declared       int `json:"declaredPerCluster"`
	UnmanagedAdmin int `json:"unmanagedAdminPerCluster"`
	Unmanaged      int `json:"unmanagedPerCluster"`
	Rows           int `json:"rows"`
	// RowsBySource says where the rows were read (operator, operator-list, eks).
	RowsBySource    map[string]int `json:"rowsBySource"`
	Report          Phase          `json:"report"`
	CallsPerAccount map[string]int `json:"callsPerAccount"`
	// FloorSeconds is the busiest account's calls at its rate after its burst,
	// plus one call's latency.
	FloorSeconds float64  `json:"floorSeconds"`
	Ratio        float64  `json:"ratio"`
	Problems     []string `json:"problems,omitempty"`
	Targets      []Target `json:"targets"`
}

// reportCluster is one cluster of the run and its entries, as specs: the
// unmanaged ones are made in EKS only.
type reportCluster struct {
	name, account     string
	admins, unmanaged []*v1.AccessEntry
	declared          []*v1.AccessEntry
	createdAt         time.Time
}

func creatorOf(acct string) string { return "arn:aws:iam::" + acct + ":role/cluster-creator" }
func roleOf(acct string) string    { return "arn:aws:iam::" + acct + ":role/eks-access-operator" }

// runReportBench is the access report benchmark (--report). It fails when the
// rows do not say what the run made, and with --smoke when a target is missed.
func runReportBench(o options) error {
	reportDefaults(&o)
	res := ReportResult{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339), Clusters: o.clusters, Accounts: o.accounts,
		Entries: o.entries, Rate: o.rate, Burst: o.burst, LatencyMS: o.latency.Milliseconds(), RowsBySource: map[string]int{}, CallsPerAccount: map[string]int{}}
	clusters := reportClusters(o, &res)
	if res.Declared < 0 {
		return fmt.Errorf("--entries %d leaves no room for the unmanaged entries", o.entries)
	}
	work, err := workDir()
	if err != nil {
		return err
	}
	say("starting etcd, kube-apiserver and the EKS emulator: %d clusters in %d accounts, no rate limit while seeding", o.clusters, o.accounts)
	w, err := testenv.NewWorld(testenv.WorldOptions{Emulator: reportEmulator(o, clusters), WorkDir: work, Region: region})
	if err != nil {
		return err
	}
	defer w.Stop()
	ctx := context.Background()
	if err := seedReport(ctx, w, clusters); err != nil {
		return err
	}
	rep, err := measureReport(ctx, w, o, &res)
	if err != nil {
		return err
	}
	res.Problems = checkReport(rep, clusters)
	res.Targets = reportTargets(res)
	printReportBench(res)
	if err := save(o.out, fmt.Sprintf("bench-report-%dx%dx%d", o.clusters, o.accounts, o.entries), res); err != nil {
		return err
	}
	if len(res.Problems) > 0 {
		return fmt.Errorf("the report's rows do not say what the run made (%d problems)", len(res.Problems))
	}
	if o.smoke && slices.ContainsFunc(res.Targets, func(t Target) bool { return !t.Met }) {
		return errors.New("a report target was missed")
	}
	return nil
}

// reportDefaults gives --accounts and --entries this mode's defaults, unless set.
func reportDefaults(o *options) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["accounts"] {
		o.accounts = 5
	}
	if !set["entries"] {
		o.entries = 100
	}
}

// reportClusters spreads the clusters over the accounts in turn, so that the
// report's workers, which take them in name order, reach every account at once.
func reportClusters(o options, res *ReportResult) []*reportCluster {
	res.UnmanagedAdmin, res.Unmanaged = max(1, o.entries*3/100), max(1, o.entries*5/100)
	res.Declared = o.entries - res.UnmanagedAdmin - res.Unmanaged
	out := make([]*reportCluster, o.clusters)
	for i := range out {
		c := &reportCluster{name: fmt.Sprintf("report-%03d", i), account: accountOf(i % max(o.accounts, 1))}
		for j := range o.entries {
			ae := reportEntry(c, j, res)
			switch {
			case j < res.UnmanagedAdmin:
				c.admins = append(c.admins, ae)
			case j < res.UnmanagedAdmin+res.Unmanaged:
				c.unmanaged = append(c.unmanaged, ae)
			default:
				c.declared = append(c.declared, ae)
			}
		}
		out[i] = c
	}
	return out
}

// reportEntry is the j-th entry of a cluster: an unmanaged admin with
// AmazonEKSAdminPolicy, an unmanaged viewer, or a declared entry: mostly
// viewers and editors of a team's namespaces, every 25th a cluster admin.
func reportEntry(c *reportCluster, j int, res *ReportResult) *v1.AccessEntry {
	ae := &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-role-%04d", c.name, j), Namespace: namespace},
		Spec:       v1.AccessEntrySpec{ClusterName: c.name, Region: region, PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/bench/role-%04d", c.account, j)},
	}
	team := v1.ScopeNamespace(fmt.Sprintf("team-%d", j%20))
	inTeam := v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{team}}
	policy, scope := "AmazonEKSViewPolicy", inTeam
	switch d := j - res.UnmanagedAdmin - res.Unmanaged; {
	case j < res.UnmanagedAdmin:
		policy, scope = "AmazonEKSAdminPolicy", v1.AccessScope{Type: v1.AccessScopeCluster}
	case d >= 0 && d%25 == 0:
		policy, scope = "AmazonEKSClusterAdminPolicy", v1.AccessScope{Type: v1.AccessScopeCluster}
	case d >= 0 && d%4 == 1:
		policy = "AmazonEKSEditPolicy"
	}
	ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: eksemulator.AccessPolicyARN(policy), AccessScope: scope}}
	if j%3 == 0 {
		ae.Spec.KubernetesGroups = []v1.KubernetesGroup{v1.KubernetesGroup(team)}
	}
	return ae
}

// reportEmulator is the emulator's world: the clusters, each with its creator's
// admin entry, and in each account a role the own account may assume. It starts
// without a rate limit, for the seeding.
func reportEmulator(o options, clusters []*reportCluster) eksemulator.Config {
	cfg := eksemulator.Config{DefaultAccount: account, Seed: 1}
	for i := range max(o.accounts, 1) {
		cfg.Roles = append(cfg.Roles, eksemulator.RoleTrust{RoleARN: roleOf(accountOf(i)), TrustedAccounts: []string{account}})
	}
	for _, c := range clusters {
		cfg.Clusters = append(cfg.Clusters, eksemulator.ClusterConfig{Name: c.name, Account: c.account, Region: region,
			AuthenticationMode: eksemulator.ModeAPI, CreatorAdmin: creatorOf(c.account)})
	}
	return cfg
}

// seedReport makes every entry in EKS, then writes the Kubernetes side as the
// operator would have: a ClusterAccessConfig per cluster and an AccessEntry per
// declared entry, each with its status.
func seedReport(ctx context.Context, w *testenv.World, clusters []*reportCluster) error {
	say("seeding EKS: the entries of %d clusters", len(clusters))
	clients := map[string]*eks.Client{}
	for _, c := range clusters {
		if clients[c.account] == nil {
			clients[c.account] = accountClient(w.Emulator, c.account)
		}
	}
	var all []*v1.AccessEntry
	accountOfCluster, declaredSet := map[string]string{}, map[*v1.AccessEntry]bool{}
	for _, c := range clusters {
		if err := describeCreated(ctx, clients[c.account], c); err != nil {
			return err
		}
		all = append(append(append(all, c.admins...), c.unmanaged...), c.declared...)
		accountOfCluster[c.name] = c.account
		for _, ae := range c.declared {
			declaredSet[ae] = true
		}
	}
	if err := parallel(all, func(ae *v1.AccessEntry) error {
		acct := accountOfCluster[ae.Spec.ClusterName]
		return seedEntry(ctx, clients[acct], acct, ae, declaredSet[ae])
	}); err != nil {
		return err
	}
	say("writing the ClusterAccessConfigs and the declared AccessEntries, with their status")
	if err := w.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	for _, c := range clusters {
		if err := writeConfig(ctx, w.Client, c); err != nil {
			return err
		}
	}
	now := metav1.Now()
	var declared []*v1.AccessEntry
	for _, c := range clusters {
		declared = append(declared, c.declared...)
	}
	return parallel(declared, func(ae *v1.AccessEntry) error { return writeDeclared(ctx, w.Client, ae, now) })
}

// accountClient calls the emulator in an account, through its role.
func accountClient(emu *eksemulator.Server, acct string) *eks.Client {
	cfg := aws.Config{Region: region, Credentials: staticCreds{}}
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleOf(acct)))
	return eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
}

// describeCreated records when EKS created the cluster.
func describeCreated(ctx context.Context, c *eks.Client, rc *reportCluster) error {
	out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(rc.name)})
	if err != nil {
		return fmt.Errorf("describing cluster %s: %w", rc.name, err)
	}
	rc.createdAt = aws.ToTime(out.Cluster.CreatedAt)
	return nil
}

// seedEntry makes an entry in EKS as its spec says, and records in its status
// what EKS answered, as the operator does; a declared one (owned) carries the
// ownership tags the operator writes.
func seedEntry(ctx context.Context, c *eks.Client, acct string, ae *v1.AccessEntry, owned bool) error {
	spec := &ae.Spec
	in := &eks.CreateAccessEntryInput{ClusterName: aws.String(spec.ClusterName), PrincipalArn: aws.String(spec.PrincipalARN), Type: aws.String(string(spec.EntryType()))}
	if owned {
		in.Tags = ownership.Owner{Instance: "bench-report", Namespace: ae.Namespace, Name: ae.Name}.Tags()
	}
	for _, g := range spec.KubernetesGroups {
		in.KubernetesGroups = append(in.KubernetesGroups, string(g))
	}
	out, err := c.CreateAccessEntry(ctx, in)
	if err != nil {
		return fmt.Errorf("creating the entry of %s in %s: %w", spec.PrincipalARN, spec.ClusterName, err)
	}
	e := out.AccessEntry
	ae.Status = v1.AccessEntryStatus{AccessEntryARN: aws.ToString(e.AccessEntryArn), Username: aws.ToString(e.Username), KubernetesGroups: e.KubernetesGroups,
		Identity: &v1.EntryIdentity{ClusterName: spec.ClusterName, Region: region, Account: acct, Partition: "aws", PrincipalARN: spec.PrincipalARN, Type: spec.EntryType()}}
	for _, p := range spec.AccessPolicies {
		scope := &ekstypes.AccessScope{Type: ekstypes.AccessScopeType(p.AccessScope.Type)}
		for _, n := range p.AccessScope.Namespaces {
			scope.Namespaces = append(scope.Namespaces, string(n))
		}
		out, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: in.ClusterName, PrincipalArn: in.PrincipalArn,
			PolicyArn: aws.String(p.PolicyARN), AccessScope: scope})
		if err != nil {
			return fmt.Errorf("associating %s with %s in %s: %w", p.PolicyARN, spec.PrincipalARN, spec.ClusterName, err)
		}
		a := out.AssociatedAccessPolicy
		ae.Status.AccessPolicies = append(ae.Status.AccessPolicies, v1.AssociatedAccessPolicy{PolicyARN: aws.ToString(a.PolicyArn),
			AccessScope:  v1.ObservedAccessScope{Type: v1.AccessScopeType(a.AccessScope.Type), Namespaces: a.AccessScope.Namespaces},
			AssociatedAt: &metav1.Time{Time: aws.ToTime(a.AssociatedAt)}, ModifiedAt: &metav1.Time{Time: aws.ToTime(a.ModifiedAt)}})
	}
	return nil
}

// writeConfig creates a cluster's ClusterAccessConfig and writes its status:
// the account, the creation time and the unmanaged entries holding no
// admin-equivalent policy, kept.
func writeConfig(ctx context.Context, k8s client.Client, c *reportCluster) error {
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: c.name},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: c.name, Region: region, RoleARN: roleOf(c.account)}}
	if err := k8s.Create(ctx, cac); err != nil {
		return err
	}
	orig := cac.DeepCopy()
	cac.Status.AccountID, cac.Status.ClusterCreatedAt = c.account, &metav1.Time{Time: c.createdAt}
	for _, ae := range c.unmanaged {
		cac.Status.UnmanagedEntries = append(cac.Status.UnmanagedEntries, v1.UnmanagedEntry{PrincipalARN: ae.Spec.PrincipalARN, Type: string(v1.TypeStandard), Action: guardrails.PruneKept})
	}
	return k8s.Status().Patch(ctx, cac, client.MergeFrom(orig))
}

// writeDeclared creates a declared entry's AccessEntry and writes the status
// the operator would have: what EKS answered, verified now, Ready.
func writeDeclared(ctx context.Context, k8s client.Client, ae *v1.AccessEntry, now metav1.Time) error {
	st := ae.Status
	if err := k8s.Create(ctx, ae); err != nil {
		return err
	}
	orig := ae.DeepCopy()
	ae.Status = st
	ae.Status.ObservedGeneration, ae.Status.LastVerifiedAt = ae.Generation, &now
	ae.Status.Conditions = []metav1.Condition{{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonSynced,
		Message: "EKS holds the spec", ObservedGeneration: ae.Generation, LastTransitionTime: now}}
	return k8s.Status().Patch(ctx, ae, client.MergeFrom(orig))
}

// measureReport turns EKS's rate limit on, reads the objects back as the
// plugin does, and times the default report.
func measureReport(ctx context.Context, w *testenv.World, o options, res *ReportResult) (*accessreport.Report, error) {
	clusters, objects, err := reportInputs(ctx, w.Client)
	if err != nil {
		return nil, err
	}
	say("the report: EKS limit %.0f/s burst %d per account, %s per call", o.rate, o.burst, o.latency)
	w.Emulator.SetFaults(eksemulator.Faults{RateLimit: o.rate, Burst: o.burst, Latency: o.latency})
	w.Emulator.ResetCalls()
	reader := awsapi.NewReader(aws.Config{Region: region, Credentials: staticCreds{}},
		awsapi.ReaderOptions{Endpoint: w.Emulator.URL(), STSEndpoint: w.Emulator.URL(), QPS: o.rate, Burst: o.burst})
	start := time.Now()
	rep := accessreport.Build(ctx, reader, clusters, objects, accessreport.Options{MaxAge: time.Hour})
	res.Report = phase(w.Emulator, time.Since(start))
	for i := range max(o.accounts, 1) {
		n := total(w.Emulator.CallsOf(accountOf(i)))
		res.CallsPerAccount[accountOf(i)] = n
		res.FloorSeconds = math.Max(res.FloorSeconds, math.Max(0, float64(n-o.burst))/o.rate)
	}
	res.FloorSeconds += o.latency.Seconds()
	res.Ratio = res.Report.Seconds / math.Max(res.FloorSeconds, 0.001)
	res.Rows = len(rep.Rows)
	for _, r := range rep.Rows {
		res.RowsBySource[r.Source]++
	}
	return rep, nil
}

// reportInputs are the clusters of the ClusterAccessConfigs, reached through
// their roles, and every AccessEntry.
func reportInputs(ctx context.Context, k8s client.Client) ([]accessreport.Cluster, []v1.AccessEntry, error) {
	var configs v1.ClusterAccessConfigList
	if err := k8s.List(ctx, &configs); err != nil {
		return nil, nil, err
	}
	var objects v1.AccessEntryList
	if err := k8s.List(ctx, &objects); err != nil {
		return nil, nil, err
	}
	clusters := make([]accessreport.Cluster, len(configs.Items))
	for i := range configs.Items {
		cac := &configs.Items[i]
		clusters[i] = accessreport.Cluster{Name: cac.Spec.ClusterName, Region: cac.Spec.Region, Account: cac.Status.AccountID, Config: cac,
			Target: awsapi.Target{Region: cac.Spec.Region, RoleARN: cac.Spec.RoleARN}}
	}
	return clusters, objects.Items, nil
}

// checkReport lists what the rows get wrong: a cluster not read, a declared
// entry without rows from its status that match, an unmanaged entry (admin or
// not) or the creator's entry missing or of the wrong origin.
func checkReport(rep *accessreport.Report, clusters []*reportCluster) []string {
	var problems []string
	for _, f := range rep.Failed {
		problems = append(problems, f.Error())
	}
	byObject, byEntry := map[string][]accessreport.Row{}, map[[2]string][]accessreport.Row{}
	for _, r := range rep.Rows {
		byObject[r.Object] = append(byObject[r.Object], r)
		byEntry[[2]string{r.Cluster, r.Principal}] = append(byEntry[[2]string{r.Cluster, r.Principal}], r)
	}
	has := func(c *reportCluster, principal, what string, ok func(accessreport.Row) bool) {
		if !slices.ContainsFunc(byEntry[[2]string{c.name, principal}], ok) {
			problems = append(problems, fmt.Sprintf("cluster %s: no row of %s %s", c.name, what, principal))
		}
	}
	for _, c := range clusters {
		for _, ae := range c.declared {
			problems = append(problems, checkDeclared(ae, byObject[namespace+"/"+ae.Name])...)
		}
		for _, ae := range c.admins {
			has(c, ae.Spec.PrincipalARN, "the unmanaged admin", func(r accessreport.Row) bool { return r.Origin == accessreport.Unmanaged && r.Admin })
		}
		for _, ae := range c.unmanaged {
			has(c, ae.Spec.PrincipalARN, "the unmanaged entry", func(r accessreport.Row) bool { return r.Origin == accessreport.Unmanaged && !r.Admin })
		}
		has(c, creatorOf(c.account), "EKS's creator entry", func(r accessreport.Row) bool { return r.Origin == accessreport.MadeByEKS && r.Admin })
	}
	return problems
}

// checkDeclared says what is wrong with a declared entry's rows: there must be
// one per policy, each of origin AccessEntry, matching, and read from the
// operator's status (the default report's point), except an entry holding an
// admin-equivalent policy at a namespace scope, which is read from EKS (its
// scope could have been widened).
func checkDeclared(ae *v1.AccessEntry, rows []accessreport.Row) []string {
	if len(rows) != len(ae.Spec.AccessPolicies) {
		return []string{fmt.Sprintf("%s: %d rows for %d policies", ae.Name, len(rows), len(ae.Spec.AccessPolicies))}
	}
	source := accessreport.FromStatus
	if slices.ContainsFunc(ae.Spec.AccessPolicies, func(p v1.AccessPolicy) bool {
		return p.AccessScope.Type != v1.AccessScopeCluster && accesspolicy.IsAdminEquivalentARN(p.PolicyARN)
	}) {
		source = accessreport.FromEKS
	}
	for _, r := range rows {
		if r.Origin != accessreport.Declared || r.Matches != accessreport.Matches || r.Source != source {
			return []string{fmt.Sprintf("%s: a row of origin %q, matches %q, source %q (%s)", ae.Name, r.Origin, r.Matches, r.Source, r.Drift)}
		}
	}
	return nil
}

func reportTargets(r ReportResult) []Target {
	return []Target{
		{Name: "the default report within 1.2x the floor of the calls it made", Met: r.Ratio <= 1.2,
			Detail: fmt.Sprintf("%.2fx: %.1fs, floor %.1fs", r.Ratio, r.Report.Seconds, r.FloorSeconds)},
		{Name: "the rows say what the run made, every cluster read", Met: len(r.Problems) == 0, Detail: fmt.Sprintf("%d problems", len(r.Problems))},
	}
}

func printReportBench(r ReportResult) {
	fmt.Printf("\nEKS access report benchmark, %s, %s\n", r.Machine, r.Date)
	fmt.Printf("%d clusters in %d accounts, %d entries each (%d declared, %d unmanaged admin-equivalent, %d other unmanaged, plus the creator's), EKS limit %.0f/s burst %d per account, %dms per call\n\n",
		r.Clusters, r.Accounts, r.Entries, r.Declared, r.UnmanagedAdmin, r.Unmanaged, r.Rate, r.Burst, r.LatencyMS)
	fmt.Printf("rows: %d (%s)\n", r.Rows, counts(r.RowsBySource))
	fmt.Printf("EKS calls: %d, %d throttled (%s)\n", r.Report.Total, r.Report.Throttled, counts(r.Report.Calls))
	fmt.Printf("calls per account: %s\n", counts(r.CallsPerAccount))
	fmt.Printf("elapsed %.2fs, floor %.2fs (the busiest account's calls at %.0f/s after a burst of %d, plus one call's latency): %.2fx\n\n",
		r.Report.Seconds, r.FloorSeconds, r.Rate, r.Burst, r.Ratio)
	for i, p := range r.Problems {
		if i == 10 {
			fmt.Printf("  ... and %d more\n", len(r.Problems)-i)
			break
		}
		fmt.Println("  problem:", p)
	}
	printTargets(r.Targets)
}

// counts is a map's counts, sorted by key: a=1 b=2.
func counts(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(out, " ")
}
