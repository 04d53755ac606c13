// Command bench measures the operator as it runs in production, a separate process,
// against a real kube-apiserver and the EKS emulator with EKS's per-account rate
// limit and a per-call latency: time to converge N AccessEntries, EKS calls by
// operation against the floor the rate limit sets, a forced full resync, an update
// wave and a delete wave, and the operator's memory and CPU.
//
// `make bench` runs it at 1,000 entries; `--entries 10000` goes further. With
// --smoke it is a small run for `make test` that fails when a target that holds at
// any size (steady state, nothing Stalled) is missed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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
	flag.Parse()
	listPoll = max(time.Second, time.Duration(o.entries/2000)*time.Second)
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
	if o.smoke && !res.SizeIndependentMet() {
		fmt.Fprintln(os.Stderr, "bench: a target that holds at any size was missed")
		os.Exit(1)
	}
}

// Phase is the measurement of one part of the run.
type Phase struct {
	Seconds   float64        `json:"seconds"`
	Calls     map[string]int `json:"calls"`
	Total     int            `json:"total"`
	Writes    int            `json:"writes"`
	Throttled int            `json:"throttled"`
	// OtherAWS counts IAM (principal ID lookups) and STS calls, not in Total.
	OtherAWS int `json:"otherAWS"`
}

// Heals are the seconds from an out-of-band change until EKS held the spec again.
type Heals struct {
	Deletion    []float64 `json:"deletion"`
	AdminGrant  []float64 `json:"adminGrant"`
	GroupChange []float64 `json:"groupChange"` // from the start of the verification round
}

// Round is a full verification of every entry, with its background budget.
type Round struct {
	BackgroundQPS float64 `json:"backgroundQPS"`
	Seconds       float64 `json:"seconds"`
	// Reads are the describes and policy lists of the round; Sweeps the listings
	// made meanwhile.
	Reads  int `json:"reads"`
	Sweeps int `json:"sweeps"`
	// ProjectedSeconds is how long the round takes under the operator's
	// background budget (--background-qps), which only verification spends.
	ProjectedSeconds float64 `json:"projectedSeconds"`
	// SpecChangeSeconds is how long a spec change made during the round took to be Ready.
	SpecChangeSeconds float64 `json:"specChangeSeconds"`
}

// Target is one target of the issue, met or missed.
type Target struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Result is what one run measured.
type Result struct {
	Machine  string  `json:"machine"`
	Date     string  `json:"date"`
	Entries  int     `json:"entries"`
	Standard int     `json:"standard"`
	Policies int     `json:"policies"`
	Rate     float64 `json:"rate"`
	Burst    int     `json:"burst"`
	// The operator's drift settings of the run.
	SweepSeconds        float64 `json:"sweepPeriodSeconds"`
	WatchedSweepSeconds float64 `json:"watchedSweepPeriodSeconds"`
	BackgroundQPS       float64 `json:"backgroundQPS"`
	MemoryLimit         string  `json:"memoryLimit,omitempty"`
	LatencyMS           int64   `json:"latencyMs"`
	FloorCalls          int     `json:"floorCalls"`
	FloorSeconds        float64 `json:"floorSeconds"`
	Converge            Phase   `json:"converge"`
	Ratio               float64 `json:"convergeOverFloor"`
	CallRatio           float64 `json:"callsOverFloor"`
	Stalled             int     `json:"stalledSeen"`
	// Restart is the first sweep period after a restart with every entry Ready;
	// OneSweep the calls one sweep of the cluster takes.
	Restart  Phase `json:"restart"`
	OneSweep int   `json:"oneSweep"`
	// Quiet is a window of steady state with nothing due but the sweeps.
	Quiet Phase `json:"quiet"`
	// SteadyCallsPerSecond is the quiet window's rate plus a verification round
	// spread over the verification period.
	SteadyCallsPerSecond float64 `json:"steadyCallsPerSecond"`
	VerifyPeriodSeconds  float64 `json:"verifyPeriodSeconds"`
	Heals                Heals   `json:"heals"`
	Round                Round   `json:"verificationRound"`
	UpdateWave           Phase   `json:"updateWave"`
	DeleteWave           Phase   `json:"deleteWave"`
	RSSMiB               float64 `json:"rssMiB"`
	// RSSAnonMiB is the part of RSS the process wrote (heap, stacks); RSSFileMiB
	// the pages of its binary it read, which the kernel may drop and read again.
	RSSAnonMiB float64  `json:"rssAnonMiB"`
	RSSFileMiB float64  `json:"rssFileMiB"`
	HeapMiB    float64  `json:"heapMiB"`
	CPUSeconds float64  `json:"cpuSeconds"`
	Targets    []Target `json:"targets"`
}

// SizeIndependentMet reports the targets that must hold at any N: nothing
// written in steady state, nothing read again after a restart, nothing Stalled.
func (r Result) SizeIndependentMet() bool {
	return r.Quiet.Writes == 0 && r.restartReads() == 0 && r.Stalled == 0
}

func (r Result) restartReads() int {
	return r.Restart.Calls["DescribeAccessEntry"] + r.Restart.Calls["ListAssociatedAccessPolicies"]
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
}

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
	say("starting etcd and kube-apiserver")
	say("starting the EKS emulator: %.0f requests/s per account, burst %d, %s per call", o.rate, o.burst, o.latency)
	b.w, err = testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{
			Clusters:  []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}},
			RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Seed: 1,
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
	if err := b.w.StartOperator(); err != nil {
		return b.res, err
	}
	ctx := context.Background()
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return b.res, err
	}

	b.entries = generate(o.entries, o.seed, cluster, account, "")
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
	for _, step := range []func(context.Context) error{b.converge, b.memory, b.restart, b.quiet, b.heal, b.round, b.updateWave, b.deleteWave} {
		if err := step(ctx); err != nil {
			return b.res, err
		}
	}
	b.res.Targets = targets(b.res, o)
	report(b.res)
	return b.res, save(o.out, fmt.Sprintf("bench-%d", b.res.Entries), b.res)
}

func (b *bench) converge(ctx context.Context) error {
	say("creating %d AccessEntries (%d STANDARD with %d policies); the floor is %d calls, %.0fs at %.0f/s",
		b.o.entries, b.res.Standard, b.res.Policies, b.res.FloorCalls, b.res.FloorSeconds, b.o.rate)
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(b.entries, func(ae *v1.AccessEntry) error { return b.k8s.Create(ctx, ae) }); err != nil {
		return err
	}
	stalled, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, nil)
		return n, n == b.o.entries
	})
	b.res.Stalled = stalled
	if err != nil {
		return err
	}
	b.res.Converge = phase(b.emu, time.Since(start))
	b.res.Ratio = b.res.Converge.Seconds / math.Max(b.res.FloorSeconds, 0.001)
	b.res.CallRatio = float64(b.res.Converge.Total) / float64(max(b.res.FloorCalls, 1))
	say("converged in %.1fs, %d calls", b.res.Converge.Seconds, b.res.Converge.Total)
	return nil
}

// memory reads the operator's memory and CPU with every object converged and cached.
func (b *bench) memory(context.Context) error {
	time.Sleep(2 * time.Second)
	m, err := scrape(b.metricsAddr)
	if err != nil {
		return fmt.Errorf("reading the operator's metrics: %w", err)
	}
	b.res.RSSMiB = m["process_resident_memory_bytes"] / (1 << 20)
	b.res.HeapMiB = m["go_memstats_heap_alloc_bytes"] / (1 << 20)
	b.res.CPUSeconds = m["process_cpu_seconds_total"]
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.w.OperatorPID())); err == nil {
		for line := range strings.Lines(string(status)) {
			name, value, _ := strings.Cut(line, ":")
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
			switch {
			case err != nil:
			case name == "RssAnon":
				b.res.RSSAnonMiB = kb / 1024
			case name == "RssFile":
				b.res.RSSFileMiB = kb / 1024
			}
		}
	}
	if b.o.heapProfile {
		return b.saveHeapProfile()
	}
	return nil
}

// saveHeapProfile fetches the operator's heap profile, after a collection, into
// the results folder.
func (b *bench) saveHeapProfile() error {
	resp, err := http.Get("http://" + b.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return fmt.Errorf("reading the operator's heap profile: %w", err)
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(b.o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(b.o.out, fmt.Sprintf("heap-%d.pprof", b.o.entries))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return err
	}
	say("heap profile in %s", path)
	return nil
}

// restart restarts the operator with every entry Ready and verified, and counts
// its calls over the first sweep period (the shorter of the two listings').
func (b *bench) restart(context.Context) error {
	b.res.OneSweep = oneSweep(b.emu, account, cluster, watchedPolicies)
	say("restarting the operator with %d Ready entries; one sweep is %d calls", b.o.entries, b.res.OneSweep)
	b.w.StopOperator()
	b.emu.ResetCalls()
	start := time.Now()
	if err := b.w.StartOperator(); err != nil {
		return err
	}
	time.Sleep(min(b.o.sweepPeriod, b.o.watchedSweepPeriod()) * 9 / 10)
	b.res.Restart = phase(b.emu, time.Since(start))
	return nil
}

// quiet measures steady state: nothing changes, nothing is due but the sweeps.
func (b *bench) quiet(context.Context) error {
	say("steady state: %s with nothing changed", b.o.steady)
	b.emu.ResetCalls()
	start := time.Now()
	time.Sleep(b.o.steady)
	b.res.Quiet = phase(b.emu, time.Since(start))
	return nil
}

var watchedPolicies = []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"}

// heal deletes entries and grants the cluster-admin policy out of band, each
// at a random moment, and measures how long each takes to be put back.
func (b *bench) heal(ctx context.Context) error {
	say("out-of-band changes: %d deletions and %d admin-policy grants at random moments", b.o.heals, b.o.heals)
	eksAdmin := adminClient(b.emu)
	admin := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
	perm := b.rng.Perm(len(b.entries))
	var deletions, grants []*v1.AccessEntry
	for _, i := range perm {
		ae := b.entries[i]
		switch {
		case len(deletions) < b.o.heals:
			deletions = append(deletions, ae)
		case len(grants) < b.o.heals && ae.Spec.Type == v1.TypeStandard && !holdsPolicy(ae, admin):
			grants = append(grants, ae)
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		spread = b.o.sweepPeriod
	)
	watch := func(ae *v1.AccessEntry, change func() error, healed func(eksemulator.Entry, bool) bool, into *[]float64) {
		defer wg.Done()
		time.Sleep(time.Duration(b.rng.Int64N(int64(spread))))
		if err := change(); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			return
		}
		at := time.Now()
		for time.Since(at) < 10*time.Minute {
			e, ok := entryOf(b.emu, account, cluster, ae.Spec.PrincipalARN)
			if healed(e, ok) {
				mu.Lock()
				*into = append(*into, time.Since(at).Seconds())
				mu.Unlock()
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s was not put back within 10 minutes", ae.Name))
		mu.Unlock()
	}
	for _, ae := range deletions {
		wg.Add(1)
		go watch(ae, func() error {
			_, err := eksAdmin.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN)})
			return err
		}, func(_ eksemulator.Entry, ok bool) bool { return ok }, &b.res.Heals.Deletion)
	}
	for _, ae := range grants {
		wg.Add(1)
		go watch(ae, func() error {
			_, err := eksAdmin.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN),
				PolicyArn: aws.String(admin), AccessScope: &ekstypes.AccessScope{Type: ekstypes.AccessScopeTypeCluster}})
			return err
		}, func(e eksemulator.Entry, ok bool) bool {
			return ok && !slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return p.PolicyARN == admin })
		}, &b.res.Heals.AdminGrant)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// round changes groups out of band, then restarts the operator with every
// entry due a verification and a background budget of --round-qps, and measures
// the round: how long, how many calls, when the changed groups were put back, and
// how long a spec change made meanwhile takes to be Ready.
func (b *bench) round(ctx context.Context) error {
	say("verification round: %d group changes out of band, then every entry due, background budget %.1f/s", b.o.heals, b.o.roundQPS)
	eksAdmin := adminClient(b.emu)
	var changed []*v1.AccessEntry
	for _, i := range b.rng.Perm(len(b.entries)) {
		if ae := b.entries[i]; ae.Spec.Type == v1.TypeStandard && len(changed) < b.o.heals {
			changed = append(changed, ae)
		}
	}
	for _, ae := range changed {
		if _, err := eksAdmin.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(cluster), PrincipalArn: aws.String(ae.Spec.PrincipalARN),
			KubernetesGroups: []string{"out-of-band"}}); err != nil {
			return err
		}
	}
	b.w.StopOperator()
	b.emu.ResetCalls()
	start := time.Now()
	if err := b.w.StartOperator("--verification-period=2s", "--background-qps="+strconv.FormatFloat(b.o.roundQPS, 'f', -1, 64)); err != nil {
		return err
	}
	healed := map[string]bool{}
	var specChange *v1.AccessEntry
	specDone := make(chan error, 1)
	var (
		listed        time.Time
		verified, all = 0, -1
	)
	for {
		for _, ae := range changed {
			if e, ok := entryOf(b.emu, account, cluster, ae.Spec.PrincipalARN); !healed[ae.Name] && ok && !slices.Contains(e.KubernetesGroups, "out-of-band") {
				healed[ae.Name] = true
				b.res.Heals.GroupChange = append(b.res.Heals.GroupChange, time.Since(start).Seconds())
			}
		}
		if specChange == nil && time.Since(start) > 5*time.Second {
			specChange = b.entries[slices.IndexFunc(b.entries, func(ae *v1.AccessEntry) bool { return ae.Spec.Type == v1.TypeStandard })]
			go func() { specDone <- b.specChange(ctx, specChange) }()
		}
		if time.Since(listed) >= listPoll {
			listed = time.Now()
			list := &v1.AccessEntryList{}
			if err := b.k8s.List(ctx, list, client.InNamespace(namespace)); err != nil {
				return err
			}
			verified, all = 0, len(list.Items)
			for _, ae := range list.Items {
				if at := ae.Status.LastVerifiedAt; at != nil && !at.Time.Before(start.Truncate(time.Second)) {
					verified++
				}
			}
		}
		if verified == all && len(healed) == len(changed) && specChange != nil {
			break
		}
		if time.Since(start) > b.timeout+time.Duration(float64(3*b.o.entries)/b.o.roundQPS)*time.Second {
			return fmt.Errorf("the verification round did not end: %d of %d verified, %d of %d group changes put back", verified, all, len(healed), len(changed))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := <-specDone; err != nil {
		return err
	}
	p := phase(b.emu, time.Since(start))
	b.res.Round.BackgroundQPS, b.res.Round.Seconds = b.o.roundQPS, p.Seconds
	b.res.Round.Reads = p.Calls["DescribeAccessEntry"] + p.Calls["ListAssociatedAccessPolicies"]
	b.res.Round.Sweeps = p.Calls["ListAccessEntries"]
	sweepRate := float64(b.res.Quiet.Total) / math.Max(b.res.Quiet.Seconds, 1)
	b.res.Round.ProjectedSeconds = float64(b.res.Round.Reads) / b.o.background()
	b.res.SteadyCallsPerSecond = sweepRate + float64(b.res.Round.Reads)/b.o.verifyPeriod.Seconds()
	say("round: %d reads in %.0fs; the spec change was Ready in %.2fs", b.res.Round.Reads, p.Seconds, b.res.Round.SpecChangeSeconds)
	// Back to the operator's defaults for the waves.
	b.w.StopOperator()
	return b.w.StartOperator()
}

// specChange adds a group to one entry and waits until it is Ready at the new generation.
func (b *bench) specChange(ctx context.Context, ae *v1.AccessEntry) error {
	cur := &v1.AccessEntry{}
	if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
		return err
	}
	cur.Spec.KubernetesGroups = append(cur.Spec.KubernetesGroups, "during-the-round")
	start := time.Now()
	if err := b.k8s.Update(ctx, cur); err != nil {
		return err
	}
	// One object read every 50ms: listing them all that often would load the
	// API server more than the operator at 10,000 entries.
	only := map[string]bool{ae.Name: true}
	for time.Since(start) < time.Minute {
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
			return err
		}
		if countReady([]v1.AccessEntry{*cur}, only) == 1 {
			b.res.Round.SpecChangeSeconds = time.Since(start).Seconds()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s was not Ready within a minute of its spec change", ae.Name)
}

func (b *bench) updateWave(ctx context.Context) error {
	say("update wave: new groups on 10%% of the STANDARD entries")
	var wave []*v1.AccessEntry
	for i, ae := range b.entries {
		if ae.Spec.Type == v1.TypeStandard && i%10 == 0 {
			wave = append(wave, ae)
		}
	}
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(wave, func(ae *v1.AccessEntry) error {
		cur := &v1.AccessEntry{}
		if err := b.k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
			return err
		}
		cur.Spec.KubernetesGroups = append(cur.Spec.KubernetesGroups, "wave")
		return b.k8s.Update(ctx, cur)
	}); err != nil {
		return err
	}
	inWave := map[string]bool{}
	for _, ae := range wave {
		inWave[ae.Name] = true
	}
	if _, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, inWave)
		return n, n == len(wave)
	}); err != nil {
		return err
	}
	b.res.UpdateWave = phase(b.emu, time.Since(start))
	return nil
}

func (b *bench) deleteWave(ctx context.Context) error {
	say("delete wave: deleting 10%% of the entries")
	var doomed []*v1.AccessEntry
	for i, ae := range b.entries {
		if i%10 == 5 {
			doomed = append(doomed, ae)
		}
	}
	b.emu.ResetCalls()
	start := time.Now()
	if err := parallel(doomed, func(ae *v1.AccessEntry) error { return b.k8s.Delete(ctx, ae) }); err != nil {
		return err
	}
	if _, err := waitFor(ctx, b.k8s, b.timeout, func(list []v1.AccessEntry) (int, bool) {
		return len(list), len(list) == b.o.entries-len(doomed)
	}); err != nil {
		return err
	}
	b.res.DeleteWave = phase(b.emu, time.Since(start))
	if left := len(b.emu.Entries(account, region, cluster)); left != b.o.entries-len(doomed) {
		return fmt.Errorf("after the delete wave EKS holds %d entries, want %d", left, b.o.entries-len(doomed))
	}
	return nil
}

// oneSweep is how many calls one sweep of a cluster makes: its entries listed,
// then the holders of each watched policy, 100 a page.
func oneSweep(emu *eksemulator.Server, acct, cl string, watched []string) int {
	entries := emu.Entries(acct, region, cl)
	pages := func(n int) int { return max(1, (n+99)/100) }
	calls := pages(len(entries))
	for _, name := range watched {
		holders := 0
		for _, e := range entries {
			if slices.ContainsFunc(e.Policies, func(p eksemulator.Policy) bool { return strings.HasSuffix(p.PolicyARN, "/"+name) }) {
				holders++
			}
		}
		calls += pages(holders)
	}
	return calls
}

func holdsPolicy(ae *v1.AccessEntry, arn string) bool {
	return slices.ContainsFunc(ae.Spec.AccessPolicies, func(p v1.AccessPolicy) bool { return p.PolicyARN == arn })
}

func entryOf(emu *eksemulator.Server, acct, cl, principal string) (eksemulator.Entry, bool) {
	for _, e := range emu.Entries(acct, region, cl) {
		if e.PrincipalARN == principal {
			return e, true
		}
	}
	return eksemulator.Entry{}, false
}

// adminClient calls the emulator as the operator's own account, to change EKS
// out of band.
func adminClient(emu *eksemulator.Server) *eks.Client {
	return eks.NewFromConfig(aws.Config{Region: region, Credentials: staticCreds{}}, func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
}

// staticCreds are the credentials of the operator's own account in the emulator.
type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "bench", SecretAccessKey: "bench", Source: "bench"}, nil
}

// targets are the issues' targets, met or missed, for this run's size.
func targets(r Result, o options) []Target {
	var out []Target
	add := func(name string, met bool, format string, args ...any) {
		out = append(out, Target{Name: name, Met: met, Detail: fmt.Sprintf(format, args...)})
	}
	large := r.Entries >= 10000
	if r.Entries >= 1000 {
		add("converge within 1.05x the floor's calls", r.CallRatio <= 1.05, "%.3fx (%d calls, floor %d)", r.CallRatio, r.Converge.Total, r.FloorCalls)
		add("converge within 1.1x the floor's time", r.Ratio <= 1.1, "%.2fx (%.0fs, floor %.0fs)", r.Ratio, r.Converge.Seconds, r.FloorSeconds)
	}
	steadyMax, delMax, grantMax, verifyMax := 0.7, 60.0, 60.0, 3600.0
	if large {
		steadyMax, delMax, grantMax, verifyMax = 1, 300, 120, 12*3600
	}
	if r.Entries >= 1000 {
		add(fmt.Sprintf("steady state at most %.1f EKS calls/s", steadyMax), r.SteadyCallsPerSecond <= steadyMax,
			"%.2f/s: sweeps %.2f/s measured, plus a round of %d reads every %s", r.SteadyCallsPerSecond, float64(r.Quiet.Total)/math.Max(r.Quiet.Seconds, 1), r.Round.Reads, o.verifyPeriod)
		add(fmt.Sprintf("every field of every entry verified within %s", time.Duration(verifyMax)*time.Second), r.Round.ProjectedSeconds <= verifyMax,
			"a round takes %.0fs under --background-qps=%g (%.0fs measured at %g/s)", r.Round.ProjectedSeconds, r.BackgroundQPS, r.Round.Seconds, r.Round.BackgroundQPS)
	}
	add(fmt.Sprintf("deletions healed within %.0fs", delMax), maxOf(r.Heals.Deletion) <= delMax, "slowest %.1fs of %v", maxOf(r.Heals.Deletion), rounded(r.Heals.Deletion))
	add(fmt.Sprintf("admin-policy grants healed within %.0fs", grantMax), maxOf(r.Heals.AdminGrant) <= grantMax, "slowest %.1fs of %v", maxOf(r.Heals.AdminGrant), rounded(r.Heals.AdminGrant))
	ownWrites := 1/o.rate + o.latency.Seconds()
	add("a spec change during verification Ready within 2s plus its own writes", r.Round.SpecChangeSeconds <= 2+ownWrites, "%.2fs", r.Round.SpecChangeSeconds)
	add("a restart costs at most one sweep plus pending work", r.restartReads() == 0 && r.Restart.Total <= r.OneSweep,
		"%d calls in the first sweep period (one sweep: %d), %d entries read", r.Restart.Total, r.OneSweep, r.restartReads())
	add("zero writes in steady state", r.Quiet.Writes == 0, "%d writes in %.0fs", r.Quiet.Writes, r.Quiet.Seconds)
	add("no object Stalled by throttling", r.Stalled == 0, "%d seen Stalled, %d throttled responses", r.Stalled, r.Converge.Throttled)
	if large {
		add("RSS at most 80 MiB at 10,000 entries", r.RSSMiB <= 80, "%.1f MiB", r.RSSMiB)
	}
	return out
}

func maxOf(v []float64) float64 {
	if len(v) == 0 {
		return math.Inf(1)
	}
	return slices.Max(v)
}

func rounded(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return out
}

func workDir() (string, error) {
	root := testenv.RepoRoot()
	// A folder per run, so that runs side by side keep their kubeconfig and log apart.
	if err := os.MkdirAll(filepath.Join(root, "tmp", "bench"), 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(filepath.Join(root, "tmp", "bench"), "run-")
}

// generate makes a deterministic, realistic mix: mostly people and CI roles
// (STANDARD, 0-3 policies at cluster or namespace scope, some with groups and a
// username), and node roles of each kind.
//
// The entries are of cluster cl in account acct; prefix sets their names apart.
func generate(n int, seed uint64, cl, acct, prefix string) []*v1.AccessEntry {
	rng := rand.New(rand.NewPCG(seed, seed))
	policies := []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy", "AmazonEKSAdminViewPolicy"}
	out := make([]*v1.AccessEntry, n)
	for i := range out {
		ae := &v1.AccessEntry{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%sentry-%05d", prefix, i), Namespace: namespace},
			Spec:       v1.AccessEntrySpec{ClusterName: cl, PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/bench/role-%05d", acct, i)},
		}
		switch p := rng.IntN(100); {
		case p < 12:
			ae.Spec.Type = v1.TypeEC2Linux
		case p < 15:
			ae.Spec.Type = v1.TypeEC2Windows
		case p < 20:
			ae.Spec.Type = v1.TypeFargateLinux
		default:
			ae.Spec.Type = v1.TypeStandard
			for _, k := range rng.Perm(len(policies))[:rng.IntN(4)] {
				p := v1.AccessPolicy{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/" + policies[k], AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
				if rng.IntN(2) == 0 {
					p.AccessScope = v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: []v1.ScopeNamespace{v1.ScopeNamespace(fmt.Sprintf("team-%d", i%50)), "shared-*"}}
				}
				ae.Spec.AccessPolicies = append(ae.Spec.AccessPolicies, p)
			}
			if rng.IntN(3) == 0 {
				ae.Spec.KubernetesGroups = []v1.KubernetesGroup{v1.KubernetesGroup(fmt.Sprintf("team-%d", i%50))}
			}
			if rng.IntN(4) == 0 {
				ae.Spec.Username = fmt.Sprintf("user-%d:{{SessionName}}", i)
			}
		}
		out[i] = ae
	}
	return out
}

// parallel runs f on every entry with 16 goroutines and returns the first error.
func parallel(entries []*v1.AccessEntry, f func(*v1.AccessEntry) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan *v1.AccessEntry)
	for range 16 {
		wg.Go(func() {
			for ae := range next {
				if err := f(ae); err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, ae := range entries {
		next <- ae
	}
	close(next)
	wg.Wait()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// waitFor lists the entries every listPoll until done says so; it returns how
// many objects were ever seen Stalled.
func waitFor(ctx context.Context, k8s client.Client, timeout time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
	return waitForEvery(ctx, k8s, timeout, listPoll, done)
}

// listPoll is how often the benchmark lists every AccessEntry: each second, and
// less often for a large run, so that its own lists (30 MB of JSON at 10,000
// entries) cost the API server and the machine's two cores little next to the
// operator. Set by main from --entries.
var listPoll = time.Second

// waitForEvery is waitFor, listing every poll.
func waitForEvery(ctx context.Context, k8s client.Client, timeout, poll time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
	deadline := time.Now().Add(timeout)
	stalled := map[string]bool{}
	last := time.Now()
	for {
		list := &v1.AccessEntryList{}
		if err := k8s.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return len(stalled), err
		}
		for _, ae := range list.Items {
			if meta.IsStatusConditionTrue(ae.Status.Conditions, v1.ConditionStalled) {
				stalled[ae.Name] = true
			}
		}
		n, ok := done(list.Items)
		if ok {
			return len(stalled), nil
		}
		if time.Since(last) > 15*time.Second {
			say("  ... %d of %d so far", n, len(list.Items))
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return len(stalled), fmt.Errorf("gave up after %s: %d done", timeout, n)
		}
		time.Sleep(poll)
	}
}

// countReady counts the objects (of only, when set) Ready at their current generation.
func countReady(list []v1.AccessEntry, only map[string]bool) int {
	n := 0
	for _, ae := range list {
		if only != nil && !only[ae.Name] {
			continue
		}
		c := meta.FindStatusCondition(ae.Status.Conditions, v1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionTrue && ae.Status.ObservedGeneration == ae.Generation {
			n++
		}
	}
	return n
}

func phase(emu *eksemulator.Server, d time.Duration) Phase {
	p := Phase{Seconds: d.Seconds(), Calls: map[string]int{}}
	for op, outcomes := range emu.Calls() {
		if !eksemulator.IsEKS(op) {
			// IAM and STS: other services, other quotas.
			for _, n := range outcomes {
				p.OtherAWS += n
			}
			continue
		}
		for outcome, n := range outcomes {
			if outcome == "ThrottlingException" {
				p.Throttled += n
				continue
			}
			p.Calls[op] += n
			p.Total += n
			if isWrite(op) {
				p.Writes += n
			}
		}
	}
	return p
}

func isWrite(op string) bool {
	switch op {
	case "CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy",
		"DisassociateAccessPolicy", "TagResource", "UntagResource":
		return true
	}
	return false
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// scrape reads the operator's Prometheus metrics (unlabelled samples only).
func scrape(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func report(r Result) {
	fmt.Printf("\nEKS access operator benchmark, %s, %s\n", r.Machine, r.Date)
	fmt.Printf("%d entries (%d STANDARD, %d policies), EKS limit %.0f/s burst %d, %dms per call\n\n",
		r.Entries, r.Standard, r.Policies, r.Rate, r.Burst, r.LatencyMS)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "phase\tseconds\tEKS calls\twrites\tthrottled\tIAM+STS\tEKS calls by operation")
	for _, p := range []struct {
		name string
		p    Phase
	}{{"converge", r.Converge}, {"restart (first sweep period)", r.Restart}, {"steady state, nothing changed", r.Quiet},
		{"update wave (10%)", r.UpdateWave}, {"delete wave (10%)", r.DeleteWave}} {
		var ops []string
		for op, n := range p.p.Calls {
			ops = append(ops, fmt.Sprintf("%s=%d", op, n))
		}
		slices.Sort(ops)
		fmt.Fprintf(w, "%s\t%.1f\t%d\t%d\t%d\t%d\t%s\n", p.name, p.p.Seconds, p.p.Total, p.p.Writes, p.p.Throttled, p.p.OtherAWS, strings.Join(ops, " "))
	}
	_ = w.Flush()
	fmt.Printf("\nfloor: %d calls, %.1fs; converge took %.2fx the floor time and %.3fx its calls\n", r.FloorCalls, r.FloorSeconds, r.Ratio, r.CallRatio)
	fmt.Printf("steady state: %.2f EKS calls/s (sweeps measured, plus a verification round of %d reads every %.0fs)\n",
		r.SteadyCallsPerSecond, r.Round.Reads, r.VerifyPeriodSeconds)
	fmt.Printf("verification round: %.0fs at %g/s background, %d reads (%d sweep calls meanwhile); %.0fs under --background-qps=%g\n",
		r.Round.Seconds, r.Round.BackgroundQPS, r.Round.Reads, r.Round.Sweeps, r.Round.ProjectedSeconds, r.BackgroundQPS)
	fmt.Printf("drift settings: --sweep-period=%gs --watched-sweep-period=%gs --verification-period=%gs --background-qps=%g --memory-limit=%q\n",
		r.SweepSeconds, r.WatchedSweepSeconds, r.VerifyPeriodSeconds, r.BackgroundQPS, r.MemoryLimit)
	fmt.Printf("healed (s): deletions %v, admin-policy grants %v, group changes %v after the round began\n",
		rounded(r.Heals.Deletion), rounded(r.Heals.AdminGrant), rounded(r.Heals.GroupChange))
	fmt.Printf("a spec change during the round: Ready in %.2fs\n", r.Round.SpecChangeSeconds)
	fmt.Printf("operator: RSS %.1f MiB (%.1f written, %.1f of its binary), heap %.1f MiB, CPU %.1fs\n\n", r.RSSMiB, r.RSSAnonMiB, r.RSSFileMiB, r.HeapMiB, r.CPUSeconds)
	printTargets(r.Targets)
}

func printTargets(ts []Target) {
	fmt.Println("targets:")
	for _, t := range ts {
		verdict := "MET   "
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Printf("  %s %s (%s)\n", verdict, t.Name, t.Detail)
	}
}

func save(dir, name string, r any) error {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(testenv.RepoRoot(), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.json", name, time.Now().UTC().Format("20060102T150405")))
	say("results in %s", path)
	return os.WriteFile(path, data, 0o644)
}

func machine() string {
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, model, _ = strings.Cut(line, ": ")
				break
			}
		}
	}
	return fmt.Sprintf("%d cores %s, %s", runtime.NumCPU(), strings.TrimSpace(model), runtime.Version())
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}
