package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
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

// MultiResult is what a multi-account run measured: one account's N entries
// converging alone, then K other accounts' N entries each at once, each account
// with EKS's own limit; and a change in one account while another is throttled.
type MultiResult struct {
	Machine  string  `json:"machine"`
	Date     string  `json:"date"`
	Accounts int     `json:"accounts"`
	Entries  int     `json:"entriesPerAccount"`
	Rate     float64 `json:"rate"`
	Burst    int     `json:"burst"`
	Workers  int     `json:"workers"`
	// SingleSeconds is one account's N entries alone; MultiSeconds K accounts'.
	SingleSeconds float64 `json:"singleSeconds"`
	SingleCalls   int     `json:"singleCalls"`
	MultiSeconds  float64 `json:"multiSeconds"`
	Ratio         float64 `json:"ratio"`
	// CallsPerAccount are the EKS calls each account answered while converging.
	CallsPerAccount map[string]int `json:"callsPerAccount"`
	// StormChangeSeconds is how long one new entry in a calm account took to be
	// Ready while another account had N entries pending under a 429 storm;
	// OwnWritesSeconds is what its own calls take at the account's rate.
	StormChangeSeconds float64  `json:"stormChangeSeconds"`
	OwnWritesSeconds   float64  `json:"ownWritesSeconds"`
	Targets            []Target `json:"targets"`
}

// accountOf is the i-th account of a multi-account run: the operator's own
// first, then spokes it reaches through a role.
func accountOf(i int) string {
	if i == 0 {
		return account
	}
	return fmt.Sprintf("2000%08d", i)
}

func clusterOf(i int) string { return fmt.Sprintf("bench-%d", i) }

func runMulti(o options) (MultiResult, error) {
	res := MultiResult{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339), Accounts: o.accounts, Entries: o.entries,
		Rate: o.rate, Burst: o.burst, Workers: o.workers, CallsPerAccount: map[string]int{}}
	work, err := workDir()
	if err != nil {
		return res, err
	}
	// Account 0 converges alone; accounts 1..K together.
	var clusters []eksemulator.ClusterConfig
	for i := 0; i <= o.accounts; i++ {
		clusters = append(clusters, eksemulator.ClusterConfig{Name: clusterOf(i), Account: accountOf(i), Region: region, AuthenticationMode: "API"})
	}
	say("starting etcd, kube-apiserver and the EKS emulator: %d accounts, %.0f requests/s each", o.accounts+1, o.rate)
	w, err := testenv.NewWorld(testenv.WorldOptions{
		Emulator: eksemulator.Config{Clusters: clusters, RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Seed: 1},
		Operator: o.operator, WorkDir: work, Region: region, OperatorArgs: o.operatorArgs(),
	})
	if err != nil {
		return res, err
	}
	defer w.Stop()
	if err := w.StartOperator(); err != nil {
		return res, err
	}
	ctx, k8s, emu := context.Background(), w.Client, w.Emulator
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return res, err
	}
	for i := 1; i <= o.accounts; i++ {
		cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: clusterOf(i)},
			Spec: v1.ClusterAccessConfigSpec{ClusterName: clusterOf(i), RoleARN: "arn:aws:iam::" + accountOf(i) + ":role/eks-access-operator"}}
		if err := k8s.Create(ctx, cac); err != nil {
			return res, err
		}
	}
	if err := waitConfigs(ctx, k8s, o.accounts); err != nil {
		return res, err
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = time.Duration(6*float64(2*o.entries)/o.rate)*time.Second + 2*time.Minute
	}

	say("one account: %d entries", o.entries)
	single := generate(o.entries, o.seed, clusterOf(0), accountOf(0), "a0-")
	emu.ResetCalls()
	took, err := convergeAll(ctx, k8s, single, timeout)
	if err != nil {
		return res, err
	}
	res.SingleSeconds = took.Seconds()
	res.SingleCalls = total(emu.CallsOf(accountOf(0)))
	say("  %.1fs, %d calls", res.SingleSeconds, res.SingleCalls)

	say("%d accounts: %d entries each, at once", o.accounts, o.entries)
	var many []*v1.AccessEntry
	for i := 1; i <= o.accounts; i++ {
		many = append(many, generate(o.entries, o.seed, clusterOf(i), accountOf(i), fmt.Sprintf("a%d-", i))...)
	}
	emu.ResetCalls()
	took, err = convergeAll(ctx, k8s, many, timeout)
	if err != nil {
		return res, err
	}
	res.MultiSeconds = took.Seconds()
	res.Ratio = res.MultiSeconds / math.Max(res.SingleSeconds, 0.001)
	for i := 1; i <= o.accounts; i++ {
		res.CallsPerAccount[accountOf(i)] = total(emu.CallsOf(accountOf(i)))
	}
	say("  %.1fs (%.2fx one account's)", res.MultiSeconds, res.Ratio)

	say("a 429 storm on account %s with %d entries pending; one change in account %s", accountOf(1), o.entries, accountOf(2%(o.accounts+1)))
	emu.SetFaults(eksemulator.Faults{RateLimit: o.rate, Burst: o.burst, Latency: o.latency, Throttled: []string{accountOf(1)}})
	pending := generate(o.entries, o.seed+1, clusterOf(1), accountOf(1), "storm-")
	for _, ae := range pending {
		ae.Spec.PrincipalARN += "-storm"
	}
	if err := parallel(pending, func(ae *v1.AccessEntry) error { return k8s.Create(ctx, ae) }); err != nil {
		return res, err
	}
	time.Sleep(5 * time.Second)
	calm := 2 % (o.accounts + 1)
	one := generate(1, o.seed+2, clusterOf(calm), accountOf(calm), "calm-")
	one[0].Spec.PrincipalARN += "-calm"
	calls := 1 + len(one[0].Spec.AccessPolicies)
	res.OwnWritesSeconds = float64(calls) * (1/o.rate + o.latency.Seconds())
	took, err = convergeAll(ctx, k8s, one, time.Minute)
	if err != nil {
		return res, err
	}
	res.StormChangeSeconds = took.Seconds()
	emu.SetFaults(eksemulator.Faults{RateLimit: o.rate, Burst: o.burst, Latency: o.latency})

	res.Targets = []Target{
		{Name: fmt.Sprintf("%d accounts converge within 1.15x one account's time", o.accounts), Met: res.Ratio <= 1.15,
			Detail: fmt.Sprintf("%.2fx: %.1fs against %.1fs", res.Ratio, res.MultiSeconds, res.SingleSeconds)},
		{Name: "a change in a calm account Ready within 2s plus its own writes during another account's 429 storm", Met: res.StormChangeSeconds <= 2+res.OwnWritesSeconds,
			Detail: fmt.Sprintf("%.2fs (own writes %.2fs)", res.StormChangeSeconds, res.OwnWritesSeconds)},
	}
	reportMulti(res)
	return res, save(o.out, fmt.Sprintf("bench-multi-%dx%d", o.accounts, o.entries), res)
}

// waitConfigs waits until n ClusterAccessConfigs are Ready.
func waitConfigs(ctx context.Context, k8s client.Client, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		list := &v1.ClusterAccessConfigList{}
		if err := k8s.List(ctx, list); err != nil {
			return err
		}
		ready := 0
		for _, c := range list.Items {
			if meta.IsStatusConditionTrue(c.Status.Conditions, v1.ConditionReady) {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d ClusterAccessConfigs Ready after a minute", ready, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// convergeAll creates the entries and waits until every one is Ready.
func convergeAll(ctx context.Context, k8s client.Client, entries []*v1.AccessEntry, timeout time.Duration) (time.Duration, error) {
	only := map[string]bool{}
	for _, ae := range entries {
		only[ae.Name] = true
	}
	start := time.Now()
	if err := parallel(entries, func(ae *v1.AccessEntry) error { return k8s.Create(ctx, ae) }); err != nil {
		return 0, err
	}
	// Every half second: listing a thousand objects ten times a second would load
	// the API server that the operator writes to, and more so the larger run.
	_, err := waitForEvery(ctx, k8s, timeout, 500*time.Millisecond, func(list []v1.AccessEntry) (int, bool) {
		n := countReady(list, only)
		return n, n == len(entries)
	})
	return time.Since(start), err
}

func reportMulti(r MultiResult) {
	fmt.Printf("\nEKS access operator multi-account benchmark, %s, %s\n", r.Machine, r.Date)
	fmt.Printf("%d entries per account, EKS limit %.0f/s burst %d per account, %d workers\n\n", r.Entries, r.Rate, r.Burst, r.Workers)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "run\tseconds\tEKS calls")
	fmt.Fprintf(w, "1 account\t%.1f\t%d\n", r.SingleSeconds, r.SingleCalls)
	accounts := make([]string, 0, len(r.CallsPerAccount))
	for a := range r.CallsPerAccount {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, a := range accounts {
		fmt.Fprintf(w, "%d accounts: %s\t%.1f\t%d\n", r.Accounts, a, r.MultiSeconds, r.CallsPerAccount[a])
	}
	_ = w.Flush()
	fmt.Printf("\n%d accounts took %.2fx one account's time; during a 429 storm on one account a change in another was Ready in %ss\n\n",
		r.Accounts, r.Ratio, strconv.FormatFloat(r.StormChangeSeconds, 'f', 2, 64))
	printTargets(r.Targets)
}
