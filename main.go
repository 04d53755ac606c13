// Command eks-access-operator reconciles AccessEntry objects into Amazon EKS access
// entries. This file holds flags and wiring only.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	eksaccessv1alpha1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/controllers"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/budget"
	"github.com/eksaccess/eks-access-operator/internal/memlimit"
	"github.com/eksaccess/eks-access-operator/internal/metricsauth"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(eksaccessv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr    string
		metricsSecure  bool
		metricsCertDir string
		probeAddr      string
		pprofAddr      string
		leaderElect    bool
		leaderElectID  string
		watchNamespace string
		selector       string
		trusted        string
		watched        string
		memoryLimit    string
		kubeQPS        float64
		kubeBurst      int
		principalCheck time.Duration
		watchedPeriod  time.Duration
		awsOpts        = awsapi.DefaultOptions()
		budgetOpts     = budget.Options{}
		entries        = controllers.DefaultEntryOptions()
		configs        = controllers.DefaultConfigOptions()
		sweeps         = controllers.DefaultSweepOptions()
		eventOpts      = controllers.DefaultEventOptions()
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to callers the API server authenticates (a bearer token) and authorizes (get on the non-resource URL /metrics); false serves plain HTTP to anyone.")
	flag.StringVar(&metricsCertDir, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for the metrics endpoint (a cert-manager Secret, for example); empty or missing files: a self-signed certificate.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address the Go profiler (/debug/pprof/) binds to, unauthenticated, to find where memory or CPU goes; empty (the default) disables it. Bind it to loopback and reach it with kubectl port-forward.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	flag.StringVar(&leaderElectID, "leader-election-id", "eks-access-operator.eksaccess.io", "Name of the leader-election Lease; give each --selector shard its own.")
	flag.StringVar(&watchNamespace, "watch-namespace", "", "Only reconcile AccessEntries in this namespace (default: all namespaces).")
	flag.StringVar(&selector, "selector", "", "Only reconcile AccessEntries, and manage ClusterAccessConfigs, whose labels match this selector, to shard objects between operator instances (e.g. shard=a); label each ClusterAccessConfig for exactly one shard.")
	flag.StringVar(&entries.InstanceID, "instance-id", "", "Identity of this operator instance in the ownership tags of EKS entries (default: the UID of the kube-system namespace, stable for the cluster).")
	flag.StringVar(&entries.DefaultRegion, "region", os.Getenv("AWS_REGION"), "AWS region of AccessEntries without spec.region (default: $AWS_REGION).")
	flag.StringVar(&awsOpts.Endpoint, "eks-endpoint", "", "EKS endpoint URL instead of the regional default (a VPC endpoint, or the emulator).")
	flag.StringVar(&awsOpts.STSEndpoint, "sts-endpoint", "", "STS endpoint URL for assuming the roles of ClusterAccessConfigs and learning the operator's own account (default: the regional one; the emulator serves STS at its own address).")
	flag.StringVar(&awsOpts.IAMEndpoint, "iam-endpoint", "", "IAM endpoint URL for reading principals' unique IDs (default: the partition's global one; the emulator serves IAM at its own address).")
	flag.Float64Var(&awsOpts.IAMQPS, "iam-qps", awsOpts.IAMQPS, "IAM reads (the principal check) per second, per account; a check over it is put off to a later reconcile, never waited for.")
	flag.DurationVar(&principalCheck, "principal-check-interval", entries.PrincipalCheckInterval, "How often each Ready entry's IAM principal is looked up (iam:GetRole or iam:GetUser), whatever --verification-period says, to recreate the entry of a role or user deleted and created again under the same ARN; 0 turns the check off.")
	flag.StringVar(&trusted, "trusted-namespaces", "", "Comma-separated namespaces whose AccessEntries are honoured without guardrail rules; an AccessEntry in any other namespace needs a rule of its cluster's ClusterAccessConfig (default: the operator's own namespace, from $POD_NAMESPACE or the service account, else "+defaultNamespace+").")
	flag.BoolVar(&entries.RequireClusterConfig, "require-cluster-config", false, "Refuse (NotPermitted) AccessEntries whose cluster has no ClusterAccessConfig even in the trusted namespaces.")
	flag.Float64Var(&budgetOpts.QPS, "eks-qps", 10, "EKS calls per second, per account and region, shared by all workers.")
	flag.IntVar(&budgetOpts.Burst, "eks-burst", 10, "EKS calls allowed in a burst above --eks-qps.")
	flag.Float64Var(&budgetOpts.BackgroundQPS, "background-qps", 0, "EKS calls per second, per account and region, that verification may spend, within --eks-qps and only when no change waits (default: a tenth of --eks-qps); the sweeps are made besides, on their own periods.")
	flag.DurationVar(&entries.VerifyPeriod, "verification-period", entries.VerifyPeriod, "How often, at most, every field of each entry is read from EKS in full; entries take turns under --background-qps, so with many entries a round takes longer (see docs/operating.md).")
	flag.DurationVar(&sweeps.Period, "sweep-period", sweeps.Period, "How often each cluster's entries are all listed (ListAccessEntries) to find entries deleted out of band.")
	flag.DurationVar(&watchedPeriod, "watched-sweep-period", 0, "How often the holders of each --watched-policies policy are listed to find grants made out of band (default: --sweep-period).")
	flag.StringVar(&watched, "watched-policies", strings.Join(sweeps.WatchedPolicies, ","), "Comma-separated access policy names whose holders are listed every --watched-sweep-period; an entry granted one out of band is put back within that period.")
	flag.DurationVar(&configs.ResyncPeriod, "resync-period", configs.ResyncPeriod, "How often each ClusterAccessConfig's cluster is read again (authentication mode, status, unmanaged entries).")
	flag.DurationVar(&configs.PollInterval, "cluster-poll-interval", configs.PollInterval, "How often a ClusterAccessConfig waiting on its cluster (an authentication mode update, a cluster UPDATING) is looked at again.")
	flag.Float64Var(&kubeQPS, "kube-api-qps", 200, "Requests per second to the Kubernetes API server (status and finalizer patches: about three per changed AccessEntry); client-go's default of 20 would cap a change across many accounts at about 7 entries a second.")
	flag.IntVar(&kubeBurst, "kube-api-burst", 300, "Requests to the Kubernetes API server allowed in a burst above --kube-api-qps.")
	flag.StringVar(&memoryLimit, "memory-limit", "", "Soft memory limit of the Go runtime (e.g. 100MiB; default: 90% of the container's cgroup memory limit, unless $GOMEMLIMIT is set).")
	flag.IntVar(&entries.MaxConcurrentReconciles, "max-concurrent-reconciles", entries.MaxConcurrentReconciles, "AccessEntries reconciled at once. No worker waits for an account's line of EKS calls (at most 250ms to space a call), so many are cheap.")
	flag.DurationVar(&entries.StallAfter, "stall-after", entries.StallAfter, "How long to wait on EKS (eventual consistency, a new IAM principal) before reporting Stalled.")
	flag.DurationVar(&entries.RecheckInterval, "recheck-interval", entries.RecheckInterval, "How often a condition only a person can fix (CONFIG_MAP cluster, missing cluster, denied permission, entry quota reached) is checked again.")
	flag.DurationVar(&entries.ConsistencyWindow, "consistency-window", entries.ConsistencyWindow, "How long an entry the operator created may read as absent before it is taken as deleted out of band.")
	flag.StringVar(&eventOpts.QueueURL, "events-queue-url", "", "SQS queue that EventBridge delivers EKS's CloudTrail events to (docs/events.md): an entry changed out of band is verified and put back as soon as its event arrives, and the sweeps and verification become a backstop at their --events-* periods. Empty (the default): no events.")
	flag.StringVar(&eventOpts.QueueRegion, "events-queue-region", "", "Region of --events-queue-url when its address does not say (a VPC endpoint); default: the URL's, else --region.")
	flag.DurationVar(&eventOpts.MaxDelay, "events-max-delay", eventOpts.MaxDelay, "How late the event of one of the operator's own writes may arrive before events of that account and region are taken as not arriving (the sweeps then run at their no-events periods).")
	flag.DurationVar(&eventOpts.ProbeAfter, "events-probe-interval", eventOpts.ProbeAfter, "How long an account and region may go without an event of the operator's own writes before it removes a tag no entry carries (a write that changes nothing) to see its event arrive.")
	flag.DurationVar(&sweeps.EventsPeriod, "events-sweep-period", sweeps.EventsPeriod, "--sweep-period while events arrive: the listing only finds deletions whose event was lost.")
	flag.DurationVar(&sweeps.EventsWatchedPeriod, "events-watched-sweep-period", sweeps.EventsWatchedPeriod, "--watched-sweep-period while events arrive.")
	flag.DurationVar(&entries.EventsVerifyPeriod, "events-verification-period", entries.EventsVerifyPeriod, "--verification-period while events arrive: a full read only finds changes whose event was lost.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	fail := func(err error, msg string) {
		log.Error(err, msg)
		os.Exit(1)
	}
	if limit, source, err := memlimit.Set(memoryLimit, "/sys/fs/cgroup"); err != nil {
		fail(err, "invalid --memory-limit")
	} else if limit > 0 {
		log.Info("Go memory limit set", "bytes", limit, "from", source)
	}

	// Options the flags leave to be derived, then every component's check, before anything starts.
	shard := labels.Everything()
	if selector != "" {
		sel, err := labels.Parse(selector)
		if err != nil {
			fail(err, "invalid --selector")
		}
		shard = sel
	}
	entries.TrustedNamespaces = trustedNamespaces(trusted)
	configs.CommonOptions, configs.Selector = entries.CommonOptions, shard
	sweeps.WatchedPeriod = cmp.Or(watchedPeriod, sweeps.Period)
	sweeps.WatchedPolicies, sweeps.Settle = splitList(watched), entries.ConsistencyWindow
	if principalCheck > 0 {
		entries.PrincipalCheckInterval = principalCheck
	}
	budgetOpts = budgetOpts.WithDefaults()
	eventOpts.QueueRegion = cmp.Or(eventOpts.QueueRegion, awsapi.QueueRegion(eventOpts.QueueURL), entries.DefaultRegion)
	if err := errors.Join(budgetOpts.Validate(), awsOpts.Validate(), entries.CommonOptions.Validate(), configs.Validate(), sweeps.Validate(), eventOpts.Validate()); err != nil {
		fail(err, "invalid flags")
	}

	cacheOpts := cache.Options{DefaultTransform: controllers.CacheTransform()}
	if watchNamespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{watchNamespace: {}}
	}
	if selector != "" {
		cacheOpts.ByObject = map[client.Object]cache.ByObject{&eksaccessv1alpha1.AccessEntry{}: {Label: shard}}
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: metricsSecure,
		// HTTP/2 stays off: its rapid-reset and stream-cancellation CVEs are not worth it for a scrape.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if metricsSecure {
		// A TokenReview and a SubjectAccessReview of the caller, as controller-runtime's
		// filters.WithAuthenticationAndAuthorization does, without linking k8s.io/apiserver.
		metricsOpts.FilterProvider = metricsauth.FilterProvider
		metricsOpts.CertDir, metricsOpts.CertName, metricsOpts.KeyName = metricsCertDir, "tls.crt", "tls.key"
	}
	restCfg := ctrl.GetConfigOrDie()
	restCfg.QPS, restCfg.Burst = float32(kubeQPS), kubeBurst
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Cache:                  cacheOpts,
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		PprofBindAddress:       pprofAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       leaderElectID,
		// Empty: the service account's namespace, which only a pod has.
		LeaderElectionNamespace: os.Getenv("POD_NAMESPACE"),
	})
	if err != nil {
		fail(err, "unable to create the manager")
	}
	if err := controllers.RegisterAccessEntryGauge(mgr, entries.DefaultRegion); err != nil {
		fail(err, "unable to register the AccessEntry gauge")
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		fail(err, "unable to set up the health check")
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		fail(err, "unable to set up the readiness check")
	}

	ctx := ctrl.SetupSignalHandler()
	if entries.InstanceID == "" {
		if entries.InstanceID, err = clusterUID(ctx, mgr.GetAPIReader()); err != nil {
			fail(err, "unable to derive --instance-id")
		}
	}
	if err := entries.Validate(); err != nil {
		fail(err, "invalid flags")
	}
	configs.InstanceID = entries.InstanceID
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fail(err, "unable to load AWS configuration")
	}

	// The process-wide services, built once and handed to whoever uses them.
	sched := budget.New(budgetOpts)
	clients, err := awsapi.NewClients(awsCfg, awsOpts, sched)
	if err != nil {
		fail(err, "invalid flags")
	}
	deps := controllers.Deps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("eks-access-operator"), AWS: clients}
	suspects := controllers.NewSuspects()
	sweeper := &controllers.Sweeper{SweepOptions: sweeps, Client: mgr.GetClient(), AWS: clients, Suspects: suspects}
	entryReconciler := &controllers.AccessEntryReconciler{Deps: deps, EntryOptions: entries, Suspects: suspects, Sweeper: sweeper, PermissionSets: clients}
	configReconciler := &controllers.ClusterAccessConfigReconciler{Deps: deps, ConfigOptions: configs}
	if principalCheck > 0 {
		entryReconciler.Principals = clients
	}
	var reader *controllers.EventReader
	if eventOpts.QueueURL != "" {
		queue, err := clients.Queue(eventOpts.QueueURL, eventOpts.QueueRegion)
		if err != nil {
			fail(err, "invalid flags")
		}
		hints := controllers.NewPruneHints()
		reader = &controllers.EventReader{EventOptions: eventOpts, Client: mgr.GetClient(), AWS: clients, Queue: queue, Suspects: suspects,
			Prunes: hints, Sweeper: sweeper, DefaultRegion: entries.DefaultRegion}
		sweeper.Events, entryReconciler.Events, configReconciler.Hints = reader, reader, hints
	}
	for _, step := range []struct {
		what string
		err  func() error
	}{
		{"the cache indexes", func() error { return controllers.IndexFields(ctx, mgr) }},
		{"the budget's scheduler", func() error { return mgr.Add(sched) }},
		{"the sweeps", func() error { return mgr.Add(sweeper) }},
		{"the AccessEntry controller", func() error { return entryReconciler.SetupWithManager(mgr) }},
		{"the ClusterAccessConfig controller", func() error { return configReconciler.SetupWithManager(mgr) }},
		{"the AccessRequest controller", func() error {
			return (&controllers.AccessRequestReconciler{Deps: deps, DefaultRegion: entries.DefaultRegion, TrustedNamespaces: entries.TrustedNamespaces}).SetupWithManager(mgr)
		}},
		{"the event reader", func() error {
			if reader == nil {
				return nil
			}
			return mgr.Add(reader)
		}},
	} {
		if err := step.err(); err != nil {
			fail(err, "unable to set up "+step.what)
		}
	}

	log.Info("starting the manager", "instanceID", entries.InstanceID, "region", entries.DefaultRegion, "eksEndpoint", awsOpts.Endpoint,
		"trustedNamespaces", entries.TrustedNamespaces, "eventsQueue", eventOpts.QueueURL)
	if err := mgr.Start(ctx); err != nil {
		fail(err, "the manager stopped with an error")
	}
}

// defaultNamespace is the namespace config/default installs the operator in.
const defaultNamespace = "eks-access-system"

// serviceAccountNamespace is where Kubernetes writes the pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// trustedNamespaces is the list --trusted-namespaces names, or the operator's own
// namespace: $POD_NAMESPACE, the service account's, or the install's default.
func trustedNamespaces(flagValue string) []string {
	if out := splitList(flagValue); len(out) > 0 {
		return out
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return []string{ns}
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil && strings.TrimSpace(string(data)) != "" {
		return []string{strings.TrimSpace(string(data))}
	}
	return []string{defaultNamespace}
}

// clusterUID is the UID of the kube-system namespace: stable for the life of the
// Kubernetes cluster, so ownership tags survive operator restarts and upgrades.
func clusterUID(ctx context.Context, reader client.Reader) (string, error) {
	ns := &corev1.Namespace{}
	if err := reader.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns); err != nil {
		return "", fmt.Errorf("reading the kube-system namespace: %w (or set --instance-id)", err)
	}
	return string(ns.UID), nil
}

// splitList is a comma-separated flag's items, trimmed, empty ones dropped.
func splitList(flagValue string) []string {
	var out []string
	for _, item := range strings.Split(flagValue, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
