// Command bench measures the operator as it runs in production, a separate process,
// against a real kube-apiserver and the EKS emulator with EKS's per-account rate
// limit and a per-call latency: time to converge N AccessEntries, EKS calls by
// operation against the floor the rate limit sets, a forced full resync, an update
// wave and a delete wave, and the operator's memory and CPU.
//
// `make bench` runs it at 1,000 entries; `--entries 10000` goes further. With
// --smoke it is a small run for `make test` that fails when a target that holds at
// any size (steady state, nothing Stalled) is missed. --report measures the access
// report instead, with no operator running.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

const (
	account   = "111122223333"
	region    = "us-west-2"
	cluster   = "bench"
	namespace = "bench"
)

type options struct {
	entries      int
	rate         float64
	burst        int
	latency      time.Duration
	workers      int
	operator     string
	out          string
	smoke        bool
	timeout      time.Duration
	seed         uint64
	sweepPeriod  time.Duration
	watchedSweep time.Duration
	backgroundQ  float64
	memoryLimit  string
	heapProfile  bool
	verifyPeriod time.Duration
	steady       time.Duration
	heals        int
	roundQPS     float64
	accounts     int

	events        bool
	eventsDelay   time.Duration
	eventsJitter  time.Duration
	eventsLoss    float64
	eventsSweep   time.Duration
	eventsWatched time.Duration
	eventsVerify  time.Duration
	lossChanges   int

	expiry   bool
	requests bool

	report   bool
	clusters int
}

func main() {
	var o options
	flag.IntVar(&o.entries, "entries", 1000, "AccessEntries to create")
	flag.Float64Var(&o.rate, "rate", 10, "EKS requests per second per account the emulator allows (the operator's --eks-qps is set to the same)")
	flag.IntVar(&o.burst, "burst", 10, "EKS burst the emulator allows (and the operator's --eks-burst)")
	flag.DurationVar(&o.latency, "latency", 20*time.Millisecond, "latency of every EKS call")
	flag.IntVar(&o.workers, "workers", 32, "the operator's --max-concurrent-reconciles")
	flag.StringVar(&o.operator, "operator", "bin/eks-access-operator", "the operator binary")
	flag.StringVar(&o.out, "out", "bench/results", "folder for the JSON results")
	flag.BoolVar(&o.smoke, "smoke", false, "a small run that fails on a missed size-independent target")
	flag.DurationVar(&o.timeout, "timeout", 0, "give up on convergence after this long (default: 3x the floor time + 2m)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated mix of entries")
	flag.DurationVar(&o.sweepPeriod, "sweep-period", 50*time.Second, "the operator's --sweep-period")
	flag.DurationVar(&o.watchedSweep, "watched-sweep-period", 0, "the operator's --watched-sweep-period (default: --sweep-period)")
	flag.Float64Var(&o.backgroundQ, "background-qps", 0, "the operator's --background-qps outside the measured round (default: a tenth of --rate)")
	flag.StringVar(&o.memoryLimit, "memory-limit", "", "the operator's --memory-limit (default: none, the Go runtime's own pacing)")
	flag.BoolVar(&o.heapProfile, "heap-profile", false, "save the operator's heap profile after converging (heap-N.pprof beside the JSON; go tool pprof reads it)")
	flag.DurationVar(&o.verifyPeriod, "verification-period", time.Hour, "the operator's --verification-period (steady state spreads a verification round over it)")
	flag.DurationVar(&o.steady, "steady", 2*time.Minute, "how long steady state is measured with nothing changed")
	flag.IntVar(&o.heals, "heals", 3, "out-of-band changes of each kind (deletion, admin-policy grant, group change) to heal")
	flag.Float64Var(&o.roundQPS, "round-qps", 5, "the operator's --background-qps during the measured verification round")
	flag.IntVar(&o.accounts, "accounts", 1, "K > 1: the multi-account benchmark, K accounts with --entries entries each, against one account with as many")
	flag.BoolVar(&o.events, "events", false, "the events benchmark: the operator reads EKS's events from the emulator's SQS queue; steady state, each kind of out-of-band change, and lost events")
	flag.DurationVar(&o.eventsDelay, "events-delay", 5*time.Second, "with --events: each event is delivered this long after its write, plus a random part up to --events-jitter")
	flag.DurationVar(&o.eventsJitter, "events-jitter", 25*time.Second, "with --events: the random extra delay of each event, so that events arrive out of order")
	flag.Float64Var(&o.eventsLoss, "events-loss", 0.05, "with --events: the share of events lost in the loss run")
	flag.DurationVar(&o.eventsSweep, "events-sweep-period", 0, "with --events: the operator's --events-sweep-period (default: the operator's, 15m)")
	flag.DurationVar(&o.eventsWatched, "events-watched-sweep-period", 0, "with --events: the operator's --events-watched-sweep-period (default: the operator's, 10m)")
	flag.DurationVar(&o.eventsVerify, "events-verification-period", 0, "with --events: the operator's --events-verification-period (default: the operator's, 24h)")
	flag.IntVar(&o.lossChanges, "loss-changes", 10, "with --events: changes of each kind made while events are lost (0: no loss run)")
	flag.BoolVar(&o.expiry, "expiry", false, "the expiry benchmark: --entries time-bound grants of one account expiring within a minute, revoked against the floor of one delete each, while another account makes changes")
	flag.BoolVar(&o.requests, "requests", false, "with --expiry: the grants are made through AccessRequests, each approved, in a tenant's namespace under a time-bound rule")
	flag.BoolVar(&o.report, "report", false, "the access report benchmark: the default report over --clusters clusters in --accounts accounts (default 5) with --entries entries each (default 100), timed against the floor of the calls it made; no operator runs")
	flag.IntVar(&o.clusters, "clusters", 50, "with --report: the clusters, spread over --accounts accounts")
	flag.Parse()
	if o.report {
		if err := runReportBench(o); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	listPoll = max(time.Second, time.Duration(o.entries/2000)*time.Second)
	if o.expiry {
		res, err := runExpiry(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if o.smoke && slices.ContainsFunc(res.Targets, func(t Target) bool { return !t.Met }) {
			fmt.Fprintln(os.Stderr, "bench: an expiry target was missed")
			os.Exit(1)
		}
		return
	}
	if o.accounts > 1 {
		res, err := runMulti(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		// A smoke run of it only shows that the harness works: at a few dozen
		// entries the ratio is mostly noise.
		_ = res
		return
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if o.smoke && o.events && slices.ContainsFunc(res.Targets, func(t Target) bool { return !t.Met }) {
		fmt.Fprintln(os.Stderr, "bench: an events target that holds at any size was missed")
		os.Exit(1)
	}
	if o.smoke && !o.events && !res.SizeIndependentMet() {
		fmt.Fprintln(os.Stderr, "bench: a target that holds at any size was missed")
		os.Exit(1)
	}
}

// operatorArgs are the operator's flags for the run, but --verification-period.
func (o options) operatorArgs() []string {
	args := []string{
		"--eks-qps=" + strconv.FormatFloat(o.rate, 'f', -1, 64), "--eks-burst=" + strconv.Itoa(o.burst),
		"--max-concurrent-reconciles=" + strconv.Itoa(o.workers),
		"--sweep-period=" + o.sweepPeriod.String(), "--watched-sweep-period=" + o.watchedSweepPeriod().String(),
		"--background-qps=" + strconv.FormatFloat(o.background(), 'f', -1, 64),
		// The benchmark reads the operator's counters over plain HTTP on loopback.
		"--metrics-secure=false",
		// The benchmark's objects are the platform team's: no guardrail rule applies.
		"--trusted-namespaces=" + namespace,
	}
	if o.memoryLimit != "" {
		args = append(args, "--memory-limit="+o.memoryLimit)
	}
	return args
}

func (o options) watchedSweepPeriod() time.Duration {
	if o.watchedSweep > 0 {
		return o.watchedSweep
	}
	return o.sweepPeriod
}

// background is the operator's --background-qps outside the measured round.
func (o options) background() float64 {
	if o.backgroundQ > 0 {
		return o.backgroundQ
	}
	return o.rate / 10
}

// bench is one run's world and what it knows.
type bench struct {
	o       options
	w       *testenv.World
	emu     *eksemulator.Server
	k8s     client.Client
	entries []*v1.AccessEntry
	timeout time.Duration
	res     Result
	rng     *rand.Rand

	metricsAddr string
	pprofAddr   string
	// eventsArgs are the operator's flags for reading the events queue (--events).
	eventsArgs []string
}

// run is the single-account benchmark: the world started, then each phase in
// turn, the targets judged, the tables printed and the results saved.
func run(o options) (Result, error) {
	work, err := workDir()
	if err != nil {
		return Result{}, err
	}
	b := &bench{o: o, rng: rand.New(rand.NewPCG(o.seed, o.seed+1)),
		res: Result{Entries: o.entries, Rate: o.rate, Burst: o.burst, LatencyMS: o.latency.Milliseconds(), Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339),
			VerifyPeriodSeconds: o.verifyPeriod.Seconds(), SweepSeconds: o.sweepPeriod.Seconds(), WatchedSweepSeconds: o.watchedSweepPeriod().Seconds(),
			BackgroundQPS: o.background(), MemoryLimit: o.memoryLimit}}
	if b.metricsAddr, err = freeAddr(); err != nil {
		return b.res, err
	}
	args := append(o.operatorArgs(), "--verification-period="+o.verifyPeriod.String())
	if o.heapProfile {
		if b.pprofAddr, err = freeAddr(); err != nil {
			return b.res, err
		}
		args = append(args, "--pprof-bind-address="+b.pprofAddr)
	}
	var events eksemulator.EventsConfig
	if o.events {
		events = eksemulator.EventsConfig{Queue: eventsQueue, Delay: o.eventsDelay, MaxExtraDelay: o.eventsJitter}
		sweep, watched, verify := o.eventsPeriods()
		b.res.Events = &EventsRun{DelaySeconds: o.eventsDelay.Seconds(), MaxExtraDelaySeconds: o.eventsJitter.Seconds(),
			SweepSeconds: sweep.Seconds(), WatchedSweepSeconds: watched.Seconds(), VerifySeconds: verify.Seconds()}
	}
	say("starting etcd and kube-apiserver")
	say("starting the EKS emulator: %.0f requests/s per account, burst %d, %s per call", o.rate, o.burst, o.latency)
	b.w, err = testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{
			Clusters:  []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}},
			RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Seed: 1, Events: events,
		},
		Operator: o.operator, WorkDir: work, Region: region,
		OperatorArgs: args,
		MetricsAddr:  b.metricsAddr,
	})
	if err != nil {
		return b.res, err
	}
	defer b.w.Stop()
	b.emu, b.k8s = b.w.Emulator, b.w.Client
	say("starting the operator (log in %s)", b.w.OperatorLog)
	if o.events {
		b.eventsArgs = o.eventsArgs(b.emu.QueueURL(eventsQueue))
	}
	if err := b.w.StartOperator(b.eventsArgs...); err != nil {
		return b.res, err
	}
	ctx := context.Background()
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return b.res, err
	}

	b.entries = generate(o.entries, o.seed, cluster, account, "")
	if o.events {
		withTags(b.entries)
	}
	for _, ae := range b.entries {
		if ae.Spec.Type == v1.TypeStandard {
			b.res.Standard++
			b.res.Policies += len(ae.Spec.AccessPolicies)
		}
	}
	b.res.FloorCalls = o.entries + b.res.Policies
	b.res.FloorSeconds = math.Max(float64(b.res.FloorCalls-o.burst), 0) / o.rate
	b.timeout = o.timeout
	if b.timeout == 0 {
		b.timeout = time.Duration(3*b.res.FloorSeconds)*time.Second + 2*time.Minute
	}
	steps := []func(context.Context) error{b.converge, b.memory, b.restart, b.quiet, b.heal, b.round, b.updateWave, b.deleteWave}
	if o.events {
		steps = []func(context.Context) error{b.converge, b.eventsQuiet, b.eventsHeal, b.eventsLoss}
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return b.res, err
		}
	}
	if o.events {
		b.res.Targets = eventsTargets(b.res)
		eventsReport(b.res)
		return b.res, save(o.out, fmt.Sprintf("bench-events-%d", b.res.Entries), b.res)
	}
	b.res.Targets = targets(b.res, o)
	report(b.res)
	return b.res, save(o.out, fmt.Sprintf("bench-%d", b.res.Entries), b.res)
}

func workDir() (string, error) {
	root := testenv.RepoRoot()
	// A folder per run, so that runs side by side keep their kubeconfig and log apart.
	if err := os.MkdirAll(filepath.Join(root, "tmp", "bench"), 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(filepath.Join(root, "tmp", "bench"), "run-")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}
