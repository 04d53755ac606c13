// Command kubectl-eksaccess is a kubectl plugin that brings the access an EKS cluster
// already has under the eks-access-operator: `kubectl eksaccess import` prints
// AccessEntry manifests that adopt the cluster's access entries, and `kubectl
// eksaccess migrate-aws-auth` prints AccessEntry manifests for the mappings of the
// aws-auth ConfigMap. Neither changes anything. This file holds flags and wiring
// only; the logic is in internal/onboard.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/onboard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const intro = `kubectl eksaccess works with the eks-access-operator. import and
migrate-aws-auth bring the access an Amazon EKS cluster already has under it: they
print AccessEntry manifests (YAML) on standard output and what a person should know
about them on standard error, and change nothing in AWS or in Kubernetes. request,
approve, deny and requests ask for time-bound access and decide on it, as you.
report lists who can do what on every cluster, for auditors and CI gates.`

// command is one subcommand: its flags, its help and what it does.
type command struct {
	name    string
	usage   string // the synopsis after "kubectl eksaccess"
	summary string // one line, for the command list
	help    string // the paragraphs of its own help
	flags   *flag.FlagSet
	// short maps a one-letter alias to the flag it stands for.
	short map[string]string
	run   func(ctx context.Context, stdout, stderr io.Writer) error
	// args is how many arguments the command takes before or among its flags,
	// given to runArgs instead of run.
	args    int
	runArgs func(ctx context.Context, args []string, stdout io.Writer) error
}

// usageError is a mistake on the command line: exit 2 and point at the help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// controller-runtime's client logs nothing a user of the plugin needs; left
	// unset, it prints a warning with a stack trace after 30 seconds.
	ctrllog.SetLogger(logr.Discard())
	cmds := commands(stdout, stderr)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 2 && args[0] == "help" {
			if c := find(cmds, args[1]); c != nil {
				writeHelp(stdout, c)
				return exitOK
			}
		}
		writeTopHelp(stdout, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c := find(cmds, args[0])
	if c == nil {
		fmt.Fprintf(stderr, "kubectl eksaccess: unknown command %q; run 'kubectl eksaccess --help'\n", args[0])
		return exitUsage
	}
	c.flags.SetOutput(io.Discard)
	positional, err := parse(c, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, c)
			return exitOK
		}
		fmt.Fprintf(stderr, "kubectl eksaccess %s: %v; run 'kubectl eksaccess %s --help'\n", c.name, err, c.name)
		return exitUsage
	}
	if err := c.start(ctx, positional, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kubectl eksaccess %s: %v\n", c.name, err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'kubectl eksaccess %s --help'\n", c.name)
			return exitUsage
		}
		if errors.As(err, new(findingsError)) {
			return exitFindings
		}
		return exitError
	}
	return exitOK
}

// parse reads a command's flags, and its arguments wherever they stand among
// them (the flag package stops at the first argument).
func parse(c *command, args []string) ([]string, error) {
	var positional []string
	for {
		if err := c.flags.Parse(args); err != nil {
			return nil, err
		}
		if c.flags.NArg() == 0 {
			break
		}
		if len(positional) == c.args {
			return nil, fmt.Errorf("unexpected argument %q", c.flags.Arg(0))
		}
		positional = append(positional, c.flags.Arg(0))
		args = c.flags.Args()[1:]
	}
	if len(positional) < c.args {
		return nil, fmt.Errorf("%s takes %d argument(s), such as the request's name", c.name, c.args)
	}
	return positional, nil
}

// start runs the command, with its arguments when it takes some.
func (c *command) start(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if c.runArgs != nil {
		return c.runArgs(ctx, args, stdout)
	}
	return c.run(ctx, stdout, stderr)
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commands(stdout, stderr io.Writer) []*command {
	return []*command{importCommand(stdout, stderr), migrateCommand(stdout, stderr),
		requestCommand(stdout, stderr), decideCommand("approve", v1.Approve), decideCommand("deny", v1.Deny), requestsCommand(),
		reportCommand(stdout, stderr)}
}

// operatorNamespace is where config/default installs the operator, the namespace it
// trusts by default: a platform team's imported access belongs there.
const operatorNamespace = "eks-access-system"

func importCommand(stdout, stderr io.Writer) *command {
	var (
		opts     onboard.ImportOptions
		endpoint string
	)
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.StringVar(&opts.Cluster, "cluster", "", "`NAME` of the EKS cluster whose access entries to import (required).")
	fs.StringVar(&opts.Region, "region", "", "AWS `REGION` of the cluster (default: AWS_REGION, AWS_DEFAULT_REGION or your AWS profile's region). It goes into spec.region.")
	fs.StringVar(&opts.Namespace, "namespace", operatorNamespace, "`NAMESPACE` of the AccessEntry objects: by default the one the operator trusts (--trusted-namespaces); "+
		"in any other, the cluster's ClusterAccessConfig needs a rule that admits the namespace and all the objects grant.")
	fs.StringVar(&opts.Namespace, "n", operatorNamespace, "")
	fs.BoolVar(&opts.IncludeNodeTypes, "include-node-types", false, "Import node entries too (EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, EC2, HYPERPOD_LINUX); by default they are left out and listed on standard error.")
	fs.StringVar(&endpoint, "endpoint-url", "", "`URL` of the EKS endpoint to call instead of the regional one (a VPC endpoint, or the EKS emulator of this project).")
	fs.BoolVar(&opts.KeepARNs, "keep-arns", false, "Write the role ARN of IAM Identity Center roles' entries (spec.principalARN) instead of their permission set (spec.identityCenter).")
	return &command{
		name:    "import",
		usage:   "import --cluster NAME [--region REGION] [--namespace NAMESPACE] [--include-node-types] [--keep-arns] [--endpoint-url URL]",
		summary: "print AccessEntry manifests that adopt a cluster's existing access entries",
		help: `Reads every access entry of the cluster (ListAccessEntries, DescribeAccessEntry, and
ListAssociatedAccessPolicies for STANDARD entries: read calls only) and prints one
AccessEntry for each, annotated eksaccess.io/adopt: "true" and holding exactly what
EKS holds, without the values EKS fills in itself (the derived username, the username
and groups of node entries, the default type and deletionPolicy). Applied, each
object makes the operator write its three ownership tags onto the entry, and nothing
else. Entries an operator owns already, and node entries unless
--include-node-types, are left out and listed on standard error. An entry of an IAM
Identity Center role (AWSReservedSSO_<set>_<suffix>) becomes an object that names
the permission set (spec.identityCenter), whose role the operator finds in IAM also
after the set is provisioned again with a new suffix; --keep-arns writes the ARN.

Object names are <cluster>-<IAM name> (the permission set for IAM Identity Center
roles), with the account appended for principals of other accounts.

AWS credentials come from the SDK's default chain (environment, profile, SSO, IMDS).`,
		flags: fs,
		short: map[string]string{"n": "namespace"},
		run: func(ctx context.Context, stdout, stderr io.Writer) error {
			if opts.Cluster == "" {
				return usageError{"--cluster is required"}
			}
			cl, region, err := onboard.NewEKSClient(ctx, opts.Region, endpoint)
			if err != nil {
				return err
			}
			opts.Region = region
			res, err := onboard.Import(ctx, cl, opts)
			if err != nil {
				return err
			}
			if err := onboard.WriteYAML(stdout, res.Objects); err != nil {
				return err
			}
			return res.Report.Write(stderr)
		},
	}
}

func migrateCommand(stdout, stderr io.Writer) *command {
	var (
		opts                      onboard.MigrateOptions
		file, kubeconfig, kubeCtx string
		reportFile                string
	)
	fs := flag.NewFlagSet("migrate-aws-auth", flag.ContinueOnError)
	fs.StringVar(&opts.Cluster, "cluster", "", "`NAME` of the EKS cluster the aws-auth ConfigMap belongs to (required); it goes into spec.clusterName.")
	fs.StringVar(&opts.Region, "region", "", "AWS `REGION` of the cluster, for spec.region (default: AWS_REGION, AWS_DEFAULT_REGION or your AWS profile's region; left out when there is none).")
	fs.StringVar(&opts.Namespace, "namespace", operatorNamespace, "`NAMESPACE` of the AccessEntry objects: by default the one the operator trusts (--trusted-namespaces); "+
		"in any other, the cluster's ClusterAccessConfig needs a rule that admits the namespace and all the objects grant.")
	fs.StringVar(&opts.Namespace, "n", operatorNamespace, "")
	fs.StringVar(&file, "file", "", "Read the aws-auth ConfigMap from this `FILE` (YAML or JSON, as 'kubectl -n kube-system get configmap aws-auth -o yaml' writes it; - for standard input) instead of from the cluster.")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "`PATH` of the kubeconfig to read kube-system/aws-auth through (default: KUBECONFIG or ~/.kube/config).")
	fs.StringVar(&kubeCtx, "context", "", "kubeconfig `CONTEXT` to read kube-system/aws-auth through (default: the current context).")
	fs.StringVar(&reportFile, "report", "", "Write the report to this `FILE` instead of standard error.")
	fs.StringVar(&opts.SSORegion, "sso-region", "", "`REGION` of your IAM Identity Center instance: the path of its AWSReservedSSO_ roles holds the region unless it is us-east-1 (default: us-east-1).")
	fs.BoolVar(&opts.Adopt, "adopt", false, "Annotate every object with eksaccess.io/adopt: \"true\", so that an access entry that already exists for its principal is taken over and brought to the spec.")
	fs.BoolVar(&opts.KeepARNs, "keep-arns", false, "Write the role ARN of IAM Identity Center roles (spec.principalARN, with the path --sso-region implies) instead of their permission set (spec.identityCenter); sso matchers are then not converted.")
	return &command{
		name:    "migrate-aws-auth",
		usage:   "migrate-aws-auth --cluster NAME [--region REGION] [--namespace NAMESPACE] (--file FILE | [--kubeconfig PATH] [--context CONTEXT]) [--report FILE] [--adopt] [--keep-arns [--sso-region REGION]]",
		summary: "print AccessEntry manifests for the mappings of the aws-auth ConfigMap, and a report",
		help: `Converts each mapping of aws-auth (mapRoles, mapUsers) into an AccessEntry:
  - node roles (username system:node:{{EC2PrivateDNSName}}, groups system:bootstrappers
    and system:nodes) become type EC2_LINUX, or EC2_WINDOWS with eks:kube-proxy-windows;
    Fargate pod execution roles (system:node:{{SessionName}}, system:node-proxier)
    become FARGATE_LINUX; node roles and administrators get deletionPolicy: Retain;
  - the group system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope;
    other system: groups are dropped; the rest become kubernetesGroups;
  - usernames are kept when an access entry allows them ({{AccountID}} is replaced by
    the principal's account), otherwise dropped so that EKS derives one;
  - IAM Identity Center roles (rolearn AWSReservedSSO_<set>_<suffix>, or the sso
    matcher) become objects that name the permission set (spec.identityCenter): the
    operator finds the set's role in IAM, whatever its path and suffix; with
    --keep-arns they keep the role ARN, with the path back (aws-auth cannot hold
    paths) as --sso-region says.
Everything that does not convert (mapAccounts, STS sessions, service-linked roles,
placeholders access entries do not know), and everything to check before applying,
is in the report. It reads the ConfigMap and nothing else, and changes nothing.`,
		flags: fs,
		short: map[string]string{"n": "namespace"},
		run: func(ctx context.Context, stdout, stderr io.Writer) error {
			if opts.Cluster == "" {
				return usageError{"--cluster is required"}
			}
			if file != "" && (kubeconfig != "" || kubeCtx != "") {
				return usageError{"--file reads the ConfigMap from a file; --kubeconfig and --context read it from a cluster: use one or the other"}
			}
			region, err := onboard.ResolveRegion(ctx, opts.Region)
			if err != nil {
				return err
			}
			opts.Region = region
			var auth onboard.AWSAuth
			if file != "" {
				auth, err = onboard.ReadAWSAuthFile(file)
			} else {
				auth, err = onboard.ReadAWSAuthFromCluster(ctx, kubeconfig, kubeCtx)
			}
			if err != nil {
				return err
			}
			res, err := onboard.Migrate(auth, opts)
			if err != nil {
				return err
			}
			if err := onboard.WriteYAML(stdout, res.Objects); err != nil {
				return err
			}
			if reportFile == "" {
				return res.Report.Write(stderr)
			}
			f, err := os.Create(reportFile)
			if err != nil {
				return err
			}
			if err := res.Report.Write(f); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
	}
}

func writeTopHelp(w io.Writer, cmds []*command) {
	var b strings.Builder
	b.WriteString(intro + "\n\nUsage:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  kubectl eksaccess %s\n", c.usage)
	}
	b.WriteString("\nCommands:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-18s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'kubectl eksaccess COMMAND --help' for one command. The flags of each:\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n%s:\n", c.name)
		writeFlags(&b, c)
	}
	_, _ = io.WriteString(w, b.String())
}

func writeHelp(w io.Writer, c *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: kubectl eksaccess %s\n\n%s\n\nFlags:\n", c.usage, c.help)
	writeFlags(&b, c)
	_, _ = io.WriteString(w, b.String())
}

// writeFlags lists every flag of c in kubectl's style (--name VALUE), with its
// one-letter alias, and --help.
func writeFlags(b *strings.Builder, c *command) {
	alias := map[string]string{}
	for s, long := range c.short {
		alias[long] = s
	}
	type row struct{ left, usage string }
	var rows []row
	c.flags.VisitAll(func(f *flag.Flag) {
		if _, isAlias := c.short[f.Name]; isAlias {
			return
		}
		placeholder, usage := flag.UnquoteUsage(f)
		left := "    --" + f.Name
		if s, ok := alias[f.Name]; ok {
			left = "-" + s + ", --" + f.Name
		}
		if placeholder != "" && placeholder != "value" {
			left += " " + placeholder
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		rows = append(rows, row{left, usage})
	})
	rows = append(rows, row{"-h, --help", "Show this help."})
	slices.SortFunc(rows, func(a, b row) int {
		return strings.Compare(strings.TrimLeft(a.left, " -"), strings.TrimLeft(b.left, " -"))
	})
	width := 0
	for _, r := range rows {
		width = max(width, len(r.left))
	}
	for _, r := range rows {
		fmt.Fprintf(b, "  %-*s  %s\n", width, r.left, r.usage)
	}
}
