// Command demo runs the operator on a laptop with nothing else installed: a local
// control plane (etcd and kube-apiserver from bin/k8s), the EKS emulator, and the
// operator as its own process. It applies config/samples, waits for every entry to
// be Ready, shows what EKS (the emulator) holds, and ends with the access report
// (kubectl eksaccess report). With --check it then verifies that the emulator holds
// exactly what the samples declare and that the report shows each as declared and
// matching, and exits; otherwise it keeps everything running until Ctrl-C.
//
// Run it with `make demo` or `make demo-check`, which build what it needs first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
	"github.com/eksaccess/eks-access-operator/internal/testenv/ekscheck"
)

const (
	// operatorNamespace is where config/default installs the operator, and so the
	// namespace it trusts by default.
	operatorNamespace = "eks-access-system"
	account           = "111122223333"
	region            = "us-west-2"
	cluster           = "demo"
)

func main() {
	check := flag.Bool("check", false, "verify the result and exit instead of running until Ctrl-C")
	operator := flag.String("operator", "bin/eks-access-operator", "the operator binary to run")
	plugin := flag.String("plugin", "bin/kubectl-eksaccess", "the kubectl plugin binary, which the time-bound access part runs as its users")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for every sample to be Ready")
	flag.Parse()
	// controller-runtime's clients here log nothing the demo shows; left unset,
	// it prints a warning with a stack trace after 30 seconds.
	ctrllog.SetLogger(logr.Discard())
	if err := run(*check, *operator, *plugin, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(check bool, operatorBin, plugin string, timeout time.Duration) error {
	root := testenv.RepoRoot()
	if !filepath.IsAbs(plugin) {
		plugin = filepath.Join(root, plugin)
	}
	work := filepath.Join(root, "tmp", "demo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A closed stdout (the reader of a pipe gone with the same Ctrl-C) must not kill
	// the demo before it has stopped what it started.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	step("starting etcd and kube-apiserver on loopback, with the AccessEntry CRD installed")
	step("starting the EKS emulator (cluster %q, account %s, %s)", cluster, account, region)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Clusters: []eksemulator.ClusterConfig{
			{Name: cluster, Account: account, Region: region, AuthenticationMode: "API_AND_CONFIG_MAP"},
		}, PermissionSets: []eksemulator.PermissionSetConfig{{Name: "Developers", Account: account}},
			Events: eksemulator.EventsConfig{Queue: eventsQueue, Delay: eventsDelay}},
		Operator:     operatorBin,
		WorkDir:      work,
		Region:       region,
		OperatorArgs: []string{"--verification-period=30s", "--sweep-period=10s", "--principal-check-interval=30s"},
		Stopping:     func(part string) { step("stopping %s", part) },
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	kubeconfig, emu := w.Kubeconfig, w.Emulator
	step("installing config/default's admission policy: only the operator removes its finalizer")
	admission, err := testenv.RenderAdmission()
	if err != nil {
		return err
	}
	if err := testenv.InstallAdmission(ctx, w.Client, admission.OperatorUser); err != nil {
		return err
	}

	step("starting the operator (%s), its log in %s; it reads EKS's events from the emulator's SQS queue %s", operatorBin, rel(root, w.OperatorLog), eventsQueue)
	if err := w.StartOperator("--events-queue-url=" + emu.QueueURL(eventsQueue)); err != nil {
		return err
	}

	kubectl := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(testenv.AssetsDir(), "kubectl"), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}

	// The platform team's samples live in the namespace the operator trusts, the
	// one config/default installs it in; the demo runs it outside the cluster.
	step("creating namespace %s, the one the operator trusts (--trusted-namespaces)", operatorNamespace)
	if _, err := kubectl("create", "namespace", operatorNamespace); err != nil {
		return err
	}
	step("applying config/samples")
	out, err := kubectl("apply", "-k", "config/samples")
	if err != nil {
		return err
	}
	fmt.Print(indent(out))

	step("waiting for the ClusterAccessConfig and every AccessEntry to be Ready (kubectl wait --for=condition=Ready)")
	if out, err := kubectl("wait", "--for=condition=Ready", "clusteraccessconfigs,accessentries", "--all", "-A", "--timeout="+timeout.String()); err != nil {
		get, _ := kubectl("get", "accessentries", "-A")
		return fmt.Errorf("%w\n%s", err, get)
	} else {
		fmt.Print(indent(out))
	}

	step("kubectl get clusteraccessconfigs,accessentries -A")
	if out, err = kubectl("get", "clusteraccessconfigs,accessentries", "-A"); err != nil {
		return err
	}
	fmt.Print(indent(out))
	step("what EKS (the emulator) holds for cluster %q", cluster)
	printEntries(emu.Entries(account, region, cluster))

	samples, err := testenv.ReadSamples()
	if err != nil {
		return err
	}
	principals, err := principalsOf(ctx, w.Client, emu, samples)
	if err != nil {
		return err
	}
	if err := showRevert(ctx, emu, principals["developers"], 30*time.Second); err != nil {
		return err
	}
	if i := slices.IndexFunc(samples, func(s *v1.AccessEntry) bool { return s.Name == "developers" && s.Spec.IdentityCenter != nil }); i >= 0 {
		if principals["developers"], err = showReprovision(ctx, w.Client, emu, samples[i], principals["developers"], 2*time.Minute); err != nil {
			return err
		}
	}
	if err := showRequest(ctx, w, plugin, work); err != nil {
		return err
	}
	if err := showReport(ctx, w, plugin, samples, check); err != nil {
		return err
	}

	if check {
		entries := emu.Entries(account, region, cluster)
		// The operator's instance, which its ownership tags name, is by default the
		// UID of the kube-system namespace.
		kubeSystem := &corev1.Namespace{}
		if err := w.Client.Get(ctx, client.ObjectKey{Name: "kube-system"}, kubeSystem); err != nil {
			return err
		}
		if problems := compare(samples, principals, entries, string(kubeSystem.UID)); len(problems) > 0 {
			return fmt.Errorf("the emulator does not hold what the samples declare:\n  %s", strings.Join(problems, "\n  "))
		}
		step("check passed: %d samples Ready, EKS holds exactly the %d entries they declare, and the access report shows each as declared and matching", len(samples), len(entries))
		return nil
	}

	fmt.Printf(`
The demo is running. In another terminal:

  export KUBECONFIG=%s
  %s get accessentries -A
  %s edit accessentry developers -n team-a      # change groups or policies, watch EKS follow

  # time-bound access, as alice (asks) and bob (approves); the plugin is bin/kubectl-eksaccess
  %s request -n team-a --kubeconfig %s --cluster %s \
      --principal arn:aws:iam::%s:role/oncall-alice --policy AmazonEKSClusterAdminPolicy --duration 5m --reason test
  %s approve NAME -n team-a --kubeconfig %s

  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=%s
  aws eks list-access-entries --cluster-name %s --endpoint-url %s
  aws eks delete-access-entry --cluster-name %s --principal-arn arn:aws:iam::%s:role/platform-admins --endpoint-url %s
      # drift: the write's event reaches the operator through the emulator's SQS queue, and the
      # entry is put back seconds later; without events, sweeps and verification would find it
  %s report --kubeconfig %s --endpoint-url %s --sts-endpoint-url %s --region %s
      # the access report: who can do what, where each entry comes from, what drifted

Press Ctrl-C to stop everything.
`, kubeconfig, rel(root, filepath.Join(testenv.AssetsDir(), "kubectl")), rel(root, filepath.Join(testenv.AssetsDir(), "kubectl")),
		rel(root, plugin), rel(root, filepath.Join(work, "kubeconfig-alice")), cluster, account, rel(root, plugin), rel(root, filepath.Join(work, "kubeconfig-bob")),
		region, cluster, emu.URL(), cluster, account, emu.URL(),
		rel(root, plugin), kubeconfig, emu.URL(), emu.URL(), region)
	<-ctx.Done()
	fmt.Println()
	return nil
}

// compare lists the differences between what the samples declare and what EKS holds:
// one entry per sample, as ekscheck judges it (type, username, groups, policies
// and tags, the ownership tags of the operator instance among them), and no other
// entry.
func compare(samples []*v1.AccessEntry, principals map[string]string, entries []eksemulator.Entry, instance string) []string {
	var problems []string
	held := map[string]eksemulator.Entry{}
	for _, e := range entries {
		held[e.PrincipalARN] = e
	}
	for _, s := range samples {
		principal := principals[s.Name]
		e, ok := held[principal]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no entry for %s", s.Name, principal))
			continue
		}
		delete(held, principal)
		problems = append(problems, ekscheck.Differences(s, e, instance)...)
	}
	for arn := range held {
		problems = append(problems, "an entry no sample declares: "+arn)
	}
	sort.Strings(problems)
	return problems
}

func printEntries(entries []eksemulator.Entry) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "    PRINCIPAL\tTYPE\tUSERNAME\tGROUPS\tPOLICIES")
	for _, e := range entries {
		var policies []string
		for _, p := range e.Policies {
			name := p.PolicyARN[strings.LastIndex(p.PolicyARN, "/")+1:]
			if p.ScopeType == "namespace" {
				name += "(" + strings.Join(p.Namespaces, ",") + ")"
			}
			policies = append(policies, name)
		}
		fmt.Fprintf(w, "    %s\t%s\t%s\t%s\t%s\n", e.PrincipalARN, e.Type, e.Username,
			orDash(strings.Join(e.KubernetesGroups, ",")), orDash(strings.Join(policies, " ")))
	}
	_ = w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ") + "\n"
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
