package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/onboard"
	"github.com/eksaccess/eks-access-operator/internal/report"
)

// exitFindings: the report ran, and rows meet a --fail-on condition.
const exitFindings = 3

// findingsError carries the rows --fail-on found, for exit code 3.
type findingsError struct{ findings []string }

func (e findingsError) Error() string {
	return fmt.Sprintf("%d row(s) meet --fail-on:\n  %s", len(e.findings), strings.Join(e.findings, "\n  "))
}

// reportFlags are the report command's settings.
type reportFlags struct {
	kubeconfig, kubeCtx string
	region              string
	endpoint, stsURL    string
	format, failOn      string
	clusters, accounts  multi
	filter              report.Filter
	live                bool
	maxAge              time.Duration
	qps                 float64
	burst               int
}

const reportHelp = `Lists who can do what on every cluster: one row per access entry and access
policy of the clusters of every ClusterAccessConfig (read through their roles, in
their accounts and regions), or of the clusters --cluster names. Each row says
where the entry comes from (ORIGIN: AccessEntry, with the object; EKS, which made
it itself, and what shows it; Unmanaged), whether it matches its declaration
(MATCHES: yes, drifted, or pending while EKS does not hold it yet), whether the
policy is admin-equivalent (it reaches Secrets or RBAC; docs/access-report.md says
how each policy is judged), and until when a time-bound grant lasts.

It is cheap by default: the holders of each admin-equivalent policy come from
ListAccessEntries filtered by that policy (one call per 100 holders), declared
entries from the operator's status when it was verified within --max-age and
agrees with those listings, and other unmanaged entries from the
ClusterAccessConfig's status (SOURCE says which). What none of these answers is
read from EKS. --live reads every entry from EKS instead. Calls keep to --eks-qps
per account; progress goes to standard error.

It changes nothing. It needs, in each cluster's account: eks:ListAccessEntries,
eks:DescribeAccessEntry, eks:ListAssociatedAccessPolicies and eks:DescribeCluster
(and sts:AssumeRole on the ClusterAccessConfigs' roles); in Kubernetes: list on
accessentries and clusteraccessconfigs (eksaccess.io).

Exit codes: 0 done; 1 an error, or a cluster that could not be read (the others
are printed); 2 a mistake on the command line; 3 rows meet --fail-on (listed on
standard error).`

func reportCommand(stdout, stderr io.Writer) *command {
	var f reportFlags
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "`PATH` of the kubeconfig of the cluster the operator runs in (default: KUBECONFIG or ~/.kube/config).")
	fs.StringVar(&f.kubeCtx, "context", "", "kubeconfig `CONTEXT` (default: the current context).")
	fs.Var(&f.clusters, "cluster", "Report on the EKS cluster `NAME` only; repeat for more. A cluster no ClusterAccessConfig names is read with your own credentials in --region.")
	fs.Var(&f.accounts, "account", "Report on the clusters of the AWS `ACCOUNT` only; repeat for more.")
	fs.StringVar(&f.region, "region", "", "AWS `REGION` of clusters whose ClusterAccessConfig names none, and of those --cluster names that none configures (default: AWS_REGION or your AWS profile's).")
	fs.BoolVar(&f.filter.Admin, "admin", false, "Print admin-equivalent rows only.")
	fs.BoolVar(&f.filter.Unmanaged, "unmanaged", false, "Print the rows of entries nothing declares and EKS did not make only.")
	fs.StringVar(&f.format, "output", "table", "Output `FORMAT`: "+strings.Join(report.Formats, ", ")+".")
	fs.StringVar(&f.format, "o", "table", "")
	fs.StringVar(&f.failOn, "fail-on", "", "Exit 3 when a printed row meets one of these `CONDITIONS`, comma-separated: "+strings.Join(report.FailConditions, ", ")+".")
	fs.BoolVar(&f.live, "live", false, "Read every entry from EKS instead of the operator's status.")
	fs.DurationVar(&f.maxAge, "max-age", time.Hour, "How long ago an AccessEntry's status may have been verified against EKS to stand in for it.")
	fs.Float64Var(&f.qps, "eks-qps", 10, "EKS calls a second per account and region.")
	fs.IntVar(&f.burst, "eks-burst", 10, "EKS calls at once per account and region.")
	fs.StringVar(&f.endpoint, "endpoint-url", "", "`URL` of the EKS endpoint to call instead of the regional one (a VPC endpoint, or the EKS emulator of this project).")
	fs.StringVar(&f.stsURL, "sts-endpoint-url", "", "`URL` of the STS endpoint to assume the ClusterAccessConfigs' roles through.")
	return &command{
		name: "report",
		usage: "report [--cluster NAME] [--account ACCOUNT] [--region REGION] [--admin] [--unmanaged] [--output table|csv|json|markdown]\n" +
			"    [--fail-on CONDITIONS] [--live] [--max-age 1h] [--eks-qps 10] [--eks-burst 10]\n" +
			"    [--kubeconfig PATH] [--context CONTEXT] [--endpoint-url URL] [--sts-endpoint-url URL]",
		summary: "list who can do what on every cluster, where it comes from, and what drifted",
		help:    reportHelp,
		flags:   fs,
		short:   map[string]string{"o": "output"},
		run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return runReport(ctx, f, stdout, stderr)
		},
	}
}

func runReport(ctx context.Context, f reportFlags, stdout, stderr io.Writer) error {
	if !slices.Contains(report.Formats, f.format) {
		return usageError{fmt.Sprintf("--output %q: use one of %s", f.format, strings.Join(report.Formats, ", "))}
	}
	failOn, err := report.ParseFailOn(f.failOn)
	if err != nil {
		return usageError{err.Error()}
	}
	if f.maxAge <= 0 || f.qps <= 0 || f.burst < 1 {
		return usageError{"--max-age and --eks-qps must be above 0, and --eks-burst at least 1"}
	}
	f.filter.Clusters, f.filter.Accounts = f.clusters, f.accounts
	region, cfg, err := onboard.LoadAWSConfig(ctx, f.region)
	if err != nil {
		return err
	}
	configs, objects, err := readObjects(ctx, f.kubeconfig, f.kubeCtx)
	if err != nil {
		return err
	}
	reader := awsapi.NewReader(cfg, awsapi.ReaderOptions{Endpoint: f.endpoint, STSEndpoint: f.stsURL, QPS: f.qps, Burst: f.burst})
	clusters, err := clustersOf(ctx, reader, configs, objects, f, region)
	if err != nil {
		return err
	}
	var progress io.Writer
	if len(clusters) > 1 {
		progress = stderr
	}
	rep := report.Build(ctx, reader, clusters, objects, report.Options{Live: f.live, MaxAge: f.maxAge, Progress: progress})
	rows := f.filter.Apply(rep.Rows)
	if err := report.Write(stdout, f.format, rows, time.Now()); err != nil {
		return err
	}
	return reportOutcome(stderr, rep, rows, failOn, reader)
}

// reportOutcome says on standard error what the report could not see and how
// many calls it made, and turns failed clusters and findings into errors.
func reportOutcome(stderr io.Writer, rep *report.Report, rows []report.Row, failOn []string, reader *awsapi.Reader) error {
	for _, n := range rep.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	var calls int64
	for _, n := range reader.Calls() {
		calls += n
	}
	fmt.Fprintf(stderr, "report: %d rows, %d EKS calls\n", len(rows), calls)
	if len(rep.Failed) > 0 {
		errs := make([]error, len(rep.Failed))
		for i, e := range rep.Failed {
			errs[i] = e
		}
		return fmt.Errorf("%d cluster(s) could not be read, and their rows are missing:\n%w", len(rep.Failed), errors.Join(errs...))
	}
	if findings := report.Findings(rows, failOn); len(findings) > 0 {
		return findingsError{findings}
	}
	return nil
}

// readObjects lists the ClusterAccessConfigs and the AccessEntries of every namespace.
func readObjects(ctx context.Context, kubeconfig, kubeCtx string) ([]v1.ClusterAccessConfig, []v1.AccessEntry, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeCtx}).ClientConfig()
	if err != nil {
		return nil, nil, err
	}
	scheme := runtime.NewScheme()
	_ = v1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	var configs v1.ClusterAccessConfigList
	if err := c.List(ctx, &configs); err != nil {
		return nil, nil, fmt.Errorf("listing ClusterAccessConfigs: %w", err)
	}
	var entries v1.AccessEntryList
	if err := c.List(ctx, &entries); err != nil {
		return nil, nil, fmt.Errorf("listing AccessEntries: %w", err)
	}
	return configs.Items, entries.Items, nil
}

// clustersOf are the clusters to read: those of the ClusterAccessConfigs, those
// where AccessEntries of the trusted namespaces (which need no config) made
// entries, and those --cluster names that none of these is; --cluster and
// --account narrow them.
func clustersOf(ctx context.Context, reader *awsapi.Reader, configs []v1.ClusterAccessConfig, objects []v1.AccessEntry, f reportFlags, region string) ([]report.Cluster, error) {
	var out []report.Cluster
	seen := map[[3]string]bool{}
	add := func(c report.Cluster) {
		key := [3]string{c.Name, c.Region, c.Account}
		if !seen[key] && (len(f.clusters) == 0 || slices.Contains(f.clusters, c.Name)) && (len(f.accounts) == 0 || slices.Contains(f.accounts, c.Account)) {
			seen[key] = true
			out = append(out, c)
		}
	}
	for i := range configs {
		c, err := configCluster(ctx, reader, &configs[i], region)
		if err != nil {
			return nil, err
		}
		add(c)
	}
	for i := range objects {
		id := objects[i].Status.Identity
		if id == nil || id.Account == "" || slices.ContainsFunc(out, func(c report.Cluster) bool { return c.Name == id.ClusterName && c.Region == id.Region }) {
			continue
		}
		// No config: the operator reached it with its own credentials, and so does the report.
		add(report.Cluster{Name: id.ClusterName, Region: id.Region, Account: id.Account, Target: awsapi.Target{Region: id.Region}})
	}
	for _, name := range f.clusters {
		if slices.ContainsFunc(out, func(c report.Cluster) bool { return c.Name == name }) {
			continue
		}
		if region == "" {
			return nil, usageError{"no AWS region for cluster " + name + ", which no ClusterAccessConfig names: pass --region"}
		}
		account, err := reader.CallerAccount(ctx, region)
		if err != nil {
			return nil, fmt.Errorf("asking STS for your account: %w", err)
		}
		add(report.Cluster{Name: name, Region: region, Account: account, Target: awsapi.Target{Region: region}})
	}
	return out, nil
}

// configCluster is the cluster a ClusterAccessConfig names, reached as the operator reaches it.
func configCluster(ctx context.Context, reader *awsapi.Reader, cac *v1.ClusterAccessConfig, region string) (report.Cluster, error) {
	r := cac.Spec.Region
	if r == "" && cac.Status.Target != nil {
		r = cac.Status.Target.Region
	}
	if r == "" {
		r = region
	}
	if r == "" {
		return report.Cluster{}, usageError{"ClusterAccessConfig " + cac.Name + " names no region and the operator has recorded none: pass --region"}
	}
	c := report.Cluster{Name: cac.Spec.ClusterName, Region: r, Account: cac.Status.AccountID, Config: cac,
		Target: awsapi.Target{Region: r, RoleARN: cac.Spec.RoleARN, ExternalID: cac.Spec.ExternalID}}
	if c.Account == "" {
		if a, ok := awsarn.AccountOf(cac.Spec.RoleARN); ok {
			c.Account = a
		} else {
			a, err := reader.CallerAccount(ctx, r)
			if err != nil {
				return report.Cluster{}, fmt.Errorf("asking STS for your account: %w", err)
			}
			c.Account = a
		}
	}
	return c, nil
}
