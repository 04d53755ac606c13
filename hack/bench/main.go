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
	"flag"
	"fmt"
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
	entries  int
	rate     float64
	burst    int
	latency  time.Duration
	workers  int
	operator string
	out      string
	smoke    bool
	timeout  time.Duration
	seed     uint64
}

func main() {
	var o options
	flag.IntVar(&o.entries, "entries", 1000, "AccessEntries to create")
	flag.Float64Var(&o.rate, "rate", 10, "EKS requests per second per account the emulator allows (the operator's --eks-qps is set to the same)")
	flag.IntVar(&o.burst, "burst", 10, "EKS burst the emulator allows (and the operator's --eks-burst)")
	flag.DurationVar(&o.latency, "latency", 20*time.Millisecond, "latency of every EKS call")
	flag.IntVar(&o.workers, "workers", 4, "the operator's --max-concurrent-reconciles")
	flag.StringVar(&o.operator, "operator", "bin/eks-access-operator", "the operator binary")
	flag.StringVar(&o.out, "out", "bench/results", "folder for the JSON results")
	flag.BoolVar(&o.smoke, "smoke", false, "a small run that fails on a missed size-independent target")
	flag.DurationVar(&o.timeout, "timeout", 0, "give up on convergence after this long (default: 3x the floor time + 2m)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated mix of entries")
	flag.Parse()
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

// Result is what one run measured.
type Result struct {
	Machine      string  `json:"machine"`
	Date         string  `json:"date"`
	Entries      int     `json:"entries"`
	Standard     int     `json:"standard"`
	Policies     int     `json:"policies"`
	Rate         float64 `json:"rate"`
	Burst        int     `json:"burst"`
	LatencyMS    int64   `json:"latencyMs"`
	FloorCalls   int     `json:"floorCalls"`
	FloorSeconds float64 `json:"floorSeconds"`
	Converge     Phase   `json:"converge"`
	Ratio        float64 `json:"convergeOverFloor"`
	Stalled      int     `json:"stalledSeen"`
	Resync       Phase   `json:"resync"`
	UpdateWave   Phase   `json:"updateWave"`
	DeleteWave   Phase   `json:"deleteWave"`
	RSSMiB       float64 `json:"rssMiB"`
	HeapMiB      float64 `json:"heapMiB"`
	CPUSeconds   float64 `json:"cpuSeconds"`
}

// SizeIndependentMet reports the targets that must hold at any N.
func (r Result) SizeIndependentMet() bool {
	return r.Resync.Writes == 0 && r.resyncReadsMet() && r.Stalled == 0
}

func (r Result) resyncReadsMet() bool {
	return r.Resync.Calls["DescribeAccessEntry"] <= r.Entries && r.Resync.Calls["ListAssociatedAccessPolicies"] <= r.Standard
}

func run(o options) (Result, error) {
	root := testenv.RepoRoot()
	// A folder per run, so that runs side by side keep their kubeconfig and log apart.
	if err := os.MkdirAll(filepath.Join(root, "tmp", "bench"), 0o755); err != nil {
		return Result{}, err
	}
	work, err := os.MkdirTemp(filepath.Join(root, "tmp", "bench"), "run-")
	if err != nil {
		return Result{}, err
	}
	res := Result{Entries: o.entries, Rate: o.rate, Burst: o.burst, LatencyMS: o.latency.Milliseconds(),
		Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339)}

	metricsAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	say("starting etcd and kube-apiserver")
	say("starting the EKS emulator: %.0f requests/s per account, burst %d, %s per call", o.rate, o.burst, o.latency)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{
			Clusters:  []eksemulator.ClusterConfig{{Name: cluster, Account: account, Region: region, AuthenticationMode: "API"}},
			RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Seed: 1,
		},
		Operator: o.operator,
		WorkDir:  work,
		Region:   region,
		OperatorArgs: []string{
			"--eks-qps=" + strconv.FormatFloat(o.rate, 'f', -1, 64), "--eks-burst=" + strconv.Itoa(o.burst),
			"--max-concurrent-reconciles=" + strconv.Itoa(o.workers), "--resync-period=24h",
			// The benchmark reads the operator's counters over plain HTTP on loopback.
			"--metrics-secure=false",
			// The benchmark's objects are the platform team's: no guardrail rule applies.
			"--trusted-namespaces=" + namespace,
		},
		MetricsAddr: metricsAddr,
	})
	if err != nil {
		return res, err
	}
	defer w.Stop()
	emu, k8s := w.Emulator, w.Client
	say("starting the operator (log in %s)", w.OperatorLog)
	if err := w.StartOperator(); err != nil {
		return res, err
	}

	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}

	entries := generate(o.entries, o.seed)
	for _, ae := range entries {
		if ae.Spec.Type == v1.TypeStandard {
			res.Standard++
			res.Policies += len(ae.Spec.AccessPolicies)
		}
	}
	res.FloorCalls = o.entries + res.Policies
	res.FloorSeconds = math.Max(float64(res.FloorCalls-o.burst), 0) / o.rate
	timeout := o.timeout
	if timeout == 0 {
		timeout = time.Duration(3*res.FloorSeconds)*time.Second + 2*time.Minute
	}

	say("creating %d AccessEntries (%d STANDARD with %d policies); the floor is %d calls, %.0fs at %.0f/s",
		o.entries, res.Standard, res.Policies, res.FloorCalls, res.FloorSeconds, o.rate)
	emu.ResetCalls()
	start := time.Now()
	if err := parallel(entries, func(ae *v1.AccessEntry) error { return k8s.Create(ctx, ae) }); err != nil {
		return res, err
	}
	stalled, err := waitFor(ctx, k8s, timeout, func(list []v1.AccessEntry) (int, bool) {
		return countReady(list, nil), countReady(list, nil) == o.entries
	})
	res.Stalled = stalled
	if err != nil {
		return res, err
	}
	res.Converge = phase(emu, time.Since(start))
	res.Ratio = res.Converge.Seconds / math.Max(res.FloorSeconds, 0.001)
	say("converged in %.1fs", res.Converge.Seconds)

	// Memory and CPU with N objects converged and cached.
	time.Sleep(2 * time.Second)
	if m, err := scrape(metricsAddr); err == nil {
		res.RSSMiB = m["process_resident_memory_bytes"] / (1 << 20)
		res.HeapMiB = m["go_memstats_heap_alloc_bytes"] / (1 << 20)
		res.CPUSeconds = m["process_cpu_seconds_total"]
	} else {
		return res, fmt.Errorf("reading the operator's metrics: %w", err)
	}

	say("forcing a full resync: restarting the operator with %d entries in place", o.entries)
	w.StopOperator()
	emu.ResetCalls()
	start = time.Now()
	if err := w.StartOperator(); err != nil {
		return res, err
	}
	if err := waitCalls(emu, "DescribeAccessEntry", o.entries, timeout); err != nil {
		return res, err
	}
	res.Resync = phase(emu, time.Since(start))

	say("update wave: new groups on 10%% of the STANDARD entries")
	var wave []*v1.AccessEntry
	for i, ae := range entries {
		if ae.Spec.Type == v1.TypeStandard && i%10 == 0 {
			wave = append(wave, ae)
		}
	}
	emu.ResetCalls()
	start = time.Now()
	if err := parallel(wave, func(ae *v1.AccessEntry) error {
		cur := &v1.AccessEntry{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ae), cur); err != nil {
			return err
		}
		cur.Spec.KubernetesGroups = append(cur.Spec.KubernetesGroups, "wave")
		return k8s.Update(ctx, cur)
	}); err != nil {
		return res, err
	}
	inWave := map[string]bool{}
	for _, ae := range wave {
		inWave[ae.Name] = true
	}
	if _, err := waitFor(ctx, k8s, timeout, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, inWave)
		return n, n == len(wave)
	}); err != nil {
		return res, err
	}
	res.UpdateWave = phase(emu, time.Since(start))

	say("delete wave: deleting 10%% of the entries")
	var doomed []*v1.AccessEntry
	for i, ae := range entries {
		if i%10 == 5 {
			doomed = append(doomed, ae)
		}
	}
	emu.ResetCalls()
	start = time.Now()
	if err := parallel(doomed, func(ae *v1.AccessEntry) error { return k8s.Delete(ctx, ae) }); err != nil {
		return res, err
	}
	if _, err := waitFor(ctx, k8s, timeout, func(list []v1.AccessEntry) (int, bool) {
		return len(list), len(list) == o.entries-len(doomed)
	}); err != nil {
		return res, err
	}
	res.DeleteWave = phase(emu, time.Since(start))
	if left := len(emu.Entries(account, region, cluster)); left != o.entries-len(doomed) {
		return res, fmt.Errorf("after the delete wave EKS holds %d entries, want %d", left, o.entries-len(doomed))
	}

	report(res)
	return res, save(o.out, res)
}

// generate makes a deterministic, realistic mix: mostly people and CI roles
// (STANDARD, 0-3 policies at cluster or namespace scope, some with groups and a
// username), and node roles of each kind.
func generate(n int, seed uint64) []*v1.AccessEntry {
	rng := rand.New(rand.NewPCG(seed, seed))
	policies := []string{"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy", "AmazonEKSAdminViewPolicy"}
	out := make([]*v1.AccessEntry, n)
	for i := range out {
		ae := &v1.AccessEntry{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("entry-%05d", i), Namespace: namespace},
			Spec:       v1.AccessEntrySpec{ClusterName: cluster, PrincipalARN: fmt.Sprintf("arn:aws:iam::%s:role/bench/role-%05d", account, i)},
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

// waitFor lists the entries every second until done says so; it returns how many
// objects were ever seen Stalled.
func waitFor(ctx context.Context, k8s client.Client, timeout time.Duration, done func([]v1.AccessEntry) (int, bool)) (int, error) {
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
		time.Sleep(time.Second)
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

// waitCalls waits until op has been called n times and the calls have settled.
func waitCalls(emu *eksemulator.Server, op string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for total(emu.Calls()[op]) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s called %d times in %s, want %d", op, total(emu.Calls()[op]), timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Give any further call a moment to show up: a steady state must make none.
	time.Sleep(3 * time.Second)
	return nil
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
	}{{"converge", r.Converge}, {"full resync", r.Resync}, {"update wave (10%)", r.UpdateWave}, {"delete wave (10%)", r.DeleteWave}} {
		var ops []string
		for op, n := range p.p.Calls {
			ops = append(ops, fmt.Sprintf("%s=%d", op, n))
		}
		slices.Sort(ops)
		fmt.Fprintf(w, "%s\t%.1f\t%d\t%d\t%d\t%d\t%s\n", p.name, p.p.Seconds, p.p.Total, p.p.Writes, p.p.Throttled, p.p.OtherAWS, strings.Join(ops, " "))
	}
	_ = w.Flush()
	fmt.Printf("\nfloor: %d calls, %.1fs; converge took %.2fx the floor time, %.2f calls per entry (floor %.2f)\n",
		r.FloorCalls, r.FloorSeconds, r.Ratio, float64(r.Converge.Total)/float64(r.Entries), float64(r.FloorCalls)/float64(r.Entries))
	fmt.Printf("operator: RSS %.1f MiB, heap %.1f MiB, CPU %.1fs\n\n", r.RSSMiB, r.HeapMiB, r.CPUSeconds)
	target := func(name string, met bool, detail string) {
		verdict := "MET   "
		if !met {
			verdict = "MISSED"
		}
		fmt.Printf("  %s %s (%s)\n", verdict, name, detail)
	}
	fmt.Println("targets:")
	if r.Entries >= 1000 {
		target("convergence within 1.2x the floor time", r.Ratio <= 1.2, fmt.Sprintf("%.2fx", r.Ratio))
	}
	target("zero writes in steady state", r.Resync.Writes == 0, fmt.Sprintf("%d writes in a full resync", r.Resync.Writes))
	target("steady-state reads: 1 per non-STANDARD entry, 2 per STANDARD entry", r.resyncReadsMet(),
		fmt.Sprintf("%d describes for %d entries, %d policy lists for %d STANDARD", r.Resync.Calls["DescribeAccessEntry"], r.Entries,
			r.Resync.Calls["ListAssociatedAccessPolicies"], r.Standard))
	target("no object Stalled by throttling", r.Stalled == 0, fmt.Sprintf("%d seen Stalled, %d throttled responses", r.Stalled, r.Converge.Throttled))
	if r.Entries >= 10000 {
		target("RSS at most 100 MiB at 10,000 entries", r.RSSMiB <= 100, fmt.Sprintf("%.1f MiB", r.RSSMiB))
	}
}

func save(dir string, r Result) error {
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
	path := filepath.Join(dir, fmt.Sprintf("bench-%d-%s.json", r.Entries, time.Now().UTC().Format("20060102T150405")))
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
