package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

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
