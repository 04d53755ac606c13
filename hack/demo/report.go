package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/report"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// showReport prints the access report of the demo, as the plugin prints it for
// a person; with check, it also reads the report as JSON and checks that every
// sample is in it, declared by its AccessEntry and matching EKS.
func showReport(ctx context.Context, w *testenv.World, plugin string, samples []*v1.AccessEntry, check bool) error {
	step("the access report (kubectl eksaccess report): every entry and policy of cluster %q, where it comes from, whether it matches its AccessEntry, and whether it is admin-equivalent", cluster)
	if _, err := runReport(ctx, w, plugin, true); err != nil || !check {
		return err
	}
	out, err := runReport(ctx, w, plugin, false)
	if err != nil {
		return err
	}
	var doc struct {
		Rows []report.Row `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return fmt.Errorf("reading the report's JSON: %w", err)
	}
	if problems := reportProblems(samples, doc.Rows); len(problems) > 0 {
		return fmt.Errorf("the access report does not show the samples as declared and matching:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// runReport runs the plugin's report against the demo's control plane and
// emulator, with the demo's AWS credentials. Shown, it prints the command, the
// table and what the plugin says on standard error; otherwise it returns the
// JSON. Any exit code but 0 is an error.
func runReport(ctx context.Context, w *testenv.World, plugin string, shown bool) (string, error) {
	args := []string{"report", "--kubeconfig", w.Kubeconfig, "--endpoint-url", w.Emulator.URL(), "--sts-endpoint-url", w.Emulator.URL(), "--region", region}
	if !shown {
		args = append(args, "-o", "json")
	}
	cmd := exec.CommandContext(ctx, plugin, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=demo", "AWS_SECRET_ACCESS_KEY=demo", "AWS_DEFAULT_REGION="+region)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if shown {
		shown := strings.Replace(strings.Join(args, " "), w.Kubeconfig, rel(testenv.RepoRoot(), w.Kubeconfig), 1)
		fmt.Printf("    $ kubectl eksaccess %s\n", shown)
		fmt.Print(indent(stdout.String()), indent(stderr.String()))
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl eksaccess report: %w\n%s", err, stderr.String())
	}
	return stdout.String(), nil
}

// reportProblems lists the samples the rows do not show as declared by their
// AccessEntry and matching: each needs a row, and every row of it must say so.
func reportProblems(samples []*v1.AccessEntry, rows []report.Row) []string {
	var problems []string
	for _, s := range samples {
		object, n := s.Namespace+"/"+s.Name, 0
		for _, r := range rows {
			if r.Object != object {
				continue
			}
			n++
			if r.Origin != report.Declared || r.Matches != report.Matches {
				problems = append(problems, fmt.Sprintf("%s: a row of %s with origin %q and matches %q (%s)", object, r.Principal, r.Origin, r.Matches, r.Drift))
			}
		}
		if n == 0 {
			problems = append(problems, object+": no row")
		}
	}
	return problems
}
