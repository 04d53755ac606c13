package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/requests"
)

// kube is where a request command acts: the cluster and namespace of the
// kubeconfig (KUBECONFIG, or --kubeconfig), or -n.
type kube struct {
	kubeconfig, namespace string
}

func (k *kube) flags(fs *flag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "`PATH` of the kubeconfig (default: KUBECONFIG, or ~/.kube/config).")
	fs.StringVar(&k.namespace, "namespace", "", "`NAMESPACE` of the request (default: the kubeconfig context's).")
	fs.StringVar(&k.namespace, "n", "", "")
}

// connect returns a client, the namespace to act in, and who the API server
// says the user is.
func (k *kube) connect(ctx context.Context) (client.Client, string, requests.Who, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", requests.Who{}, err
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", requests.Who{}, err
	}
	if k.namespace != "" {
		ns = k.namespace
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", requests.Who{}, err
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return nil, "", requests.Who{}, fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	return c, ns, requests.Who{User: review.Status.UserInfo.Username, Groups: review.Status.UserInfo.Groups}, nil
}

// multi is a flag that may be given more than once.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func requestCommand(stdout, _ io.Writer) *command {
	var (
		k        kube
		a        requests.Ask
		policies multi
		groups   multi
	)
	fs := flag.NewFlagSet("request", flag.ContinueOnError)
	k.flags(fs)
	fs.StringVar(&a.Name, "name", "", "`NAME` of the request (default: your username and a random suffix).")
	fs.StringVar(&a.Cluster, "cluster", "", "`NAME` of the EKS cluster (required).")
	fs.StringVar(&a.Region, "region", "", "AWS `REGION` of the cluster (default: the operator's).")
	fs.StringVar(&a.Principal, "principal", "", "`ARN` of the IAM role or user to grant the access to (required).")
	fs.Var(&policies, "policy", "Access `POLICY` by name or ARN, with ':ns1,ns2' for a namespace scope; repeat for more.")
	fs.Var(&groups, "group", "Kubernetes `GROUP` to give; repeat for more.")
	fs.StringVar(&a.Username, "username", "", "Kubernetes `USERNAME` (default: the one EKS derives).")
	fs.DurationVar(&a.Duration, "duration", 0, "How long the access lasts once approved, such as 2h (required).")
	fs.StringVar(&a.Reason, "reason", "", "Why (an incident, a ticket): approvers read it (required).")
	return &command{
		name: "request",
		usage: "request --cluster NAME [--region REGION] --principal ARN --policy POLICY [--group GROUP] [--username USERNAME]\n" +
			"    --duration 2h --reason TEXT [--name NAME] [--namespace NAMESPACE] [--kubeconfig PATH]",
		short:   map[string]string{"n": "namespace"},
		summary: "ask for time-bound access to a cluster, to be approved by others",
		help: `Creates an AccessRequest as you (the API server says who you are), and prints what
it asks. People the cluster's time-bound rule names approve it with 'kubectl
eksaccess approve'; the access then lasts --duration and is revoked.`,
		flags: fs,
		run: func(ctx context.Context, stdout, stderr io.Writer) error {
			a.Policies, a.Groups = policies, groups
			c, ns, who, err := k.connect(ctx)
			if err != nil {
				return err
			}
			a.Namespace = ns
			ar, err := requests.NewRequest(a, who)
			if err != nil {
				return usageError{err.Error()}
			}
			if err := c.Create(ctx, ar); err != nil {
				return err
			}
			fmt.Fprintln(stdout, requests.Describe(ar))
			return nil
		},
	}
}

func decideCommand(name string, d v1.DecisionKind) *command {
	var (
		k      kube
		reason string
	)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	k.flags(fs)
	fs.StringVar(&reason, "reason", "", "Your note, kept in the audit log.")
	verb := map[v1.DecisionKind]string{v1.Approve: "approves", v1.Deny: "denies"}[d]
	return &command{
		name:    name,
		usage:   name + " REQUEST [--reason TEXT] [--namespace NAMESPACE] [--kubeconfig PATH]",
		short:   map[string]string{"n": "namespace"},
		summary: strings.TrimSuffix(verb, "s") + " an AccessRequest",
		help: `Creates an AccessApproval as you that ` + verb + ` the request, and prints what it asks.
Your approval counts only if the cluster's rule names you or one of your groups,
and never for your own request.`,
		flags: fs,
		args:  1,
		runArgs: func(ctx context.Context, args []string, stdout io.Writer) error {
			c, ns, who, err := k.connect(ctx)
			if err != nil {
				return err
			}
			ar := &v1.AccessRequest{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, ar); err != nil {
				return err
			}
			if err := c.Create(ctx, requests.NewDecision(ar, d, who, reason)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s %s\n", who.User, verb, requests.Describe(ar))
			return nil
		},
	}
}

func requestsCommand() *command {
	var (
		k   kube
		all bool
	)
	fs := flag.NewFlagSet("requests", flag.ContinueOnError)
	k.flags(fs)
	fs.BoolVar(&all, "all-namespaces", false, "List the requests of every namespace.")
	fs.BoolVar(&all, "A", false, "")
	return &command{
		name:    "requests",
		usage:   "requests [--namespace NAMESPACE | --all-namespaces] [--kubeconfig PATH]",
		short:   map[string]string{"n": "namespace", "A": "all-namespaces"},
		summary: "list AccessRequests: who asked for what, and until when",
		help:    `Lists the AccessRequests of the namespace (or all, -A), newest last.`,
		flags:   fs,
		run: func(ctx context.Context, stdout, _ io.Writer) error {
			c, ns, _, err := k.connect(ctx)
			if err != nil {
				return err
			}
			list := &v1.AccessRequestList{}
			var opts []client.ListOption
			if !all {
				opts = append(opts, client.InNamespace(ns))
			}
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			return requests.Table(stdout, list.Items)
		},
	}
}
