package awsapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// These tests run Apply, which writes a plan, against the emulator in process
// (no kube-apiserver: they run in `make test-unit`).

// recordingEmulator serves the emulator and keeps the body of every request.
type recordingEmulator struct {
	mu     sync.Mutex
	bodies []string
}

func (rec *recordingEmulator) serve(t *testing.T, emu *eksemulator.Server) string {
	t.Helper()
	h := emu.Handler()
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, r.Method+" "+r.URL.Path+" "+string(body))
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
}

// applyWorld is an EKS of the emulator's cluster demo, the SDK client under it
// (for the tests' own setup and reads), the emulator and its recorded requests.
func applyWorld(t *testing.T) (EKS, EKSAPI, *eksemulator.Server, *recordingEmulator) {
	t.Helper()
	emu := newEmulator(t, "API")
	rec := &recordingEmulator{}
	clients := newClients(t, rec.serve(t, emu))
	target := Target{Region: region}
	return clients.For(target), clients.api(target), emu, rec
}

// Removing the last group sends kubernetesGroups as an empty list: an update that
// leaves the field out relies on EKS resetting it, which it does not document.
func TestApplySendsAnEmptyGroupList(t *testing.T) {
	e, cl, _, rec := applyWorld(t)
	ctx := context.Background()
	principal := roleARN("no-groups-left")
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
	if _, err := cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), KubernetesGroups: []string{"viewers"}}); err != nil {
		t.Fatal(err)
	}
	d := plan.Desired{Identity: id, Tags: map[string]string{}}
	o := plan.Observed{Type: "STANDARD", Groups: []string{"viewers"}, Tags: map[string]string{}}
	if err := e.Apply(ctx, Entry{ID: id}, plan.Compute(d, o, nil), &o); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rec.bodies, func(b string) bool { return strings.HasPrefix(b, "POST /clusters/demo/access-entries/") })
	if i < 0 || !strings.Contains(rec.bodies[i], `"kubernetesGroups":[]`) {
		t.Fatalf("requests %q: want an UpdateAccessEntry with kubernetesGroups []", rec.bodies)
	}
	out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal)})
	if err != nil || len(out.AccessEntry.KubernetesGroups) != 0 {
		t.Fatalf("groups %v (%v), want none", out.AccessEntry.KubernetesGroups, err)
	}
}

// A write EKS refuses does not hold back the others, and a refusal from outside
// the spec (tags that do not fit) is reported ahead of one of the spec's own.
func TestApplyGoesOnPastRefusals(t *testing.T) {
	e, cl, emu, _ := applyWorld(t)
	ctx := context.Background()
	principal := roleARN("refused-in-part")
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
	out, err := cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal)})
	if err != nil {
		t.Fatal(err)
	}
	entryARN := aws.ToString(out.AccessEntry.AccessEntryArn)
	full := map[string]string{}
	for i := range v1.MaxEntryTags {
		full[fmt.Sprintf("k%02d", i)] = "v"
	}
	if _, err := cl.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(entryARN), Tags: full}); err != nil {
		t.Fatal(err)
	}

	bad := "system:admin" // EKS refuses it: the spec's fault
	p := plan.Plan{
		Update:    &plan.EntryUpdate{Username: &bad, Groups: []string{"viewers"}},
		Associate: map[string]plan.Scope{viewPolicy: {Type: "cluster"}},
		SetTags:   map[string]string{"team": "a"}, // no room: not the spec's fault
	}
	after := &plan.Observed{Username: "before", Tags: map[string]string{}}
	err = e.Apply(ctx, Entry{ID: id, ARN: entryARN}, p, after)
	if k := Classify(err); k != Refused || !strings.Contains(err.Error(), "tagging the entry") {
		t.Fatalf("Apply = %v (%s), want the tag refusal first", err, k)
	}
	// What EKS accepted is folded into the observation from its answers; what it
	// refused is not.
	if got, ok := after.Policies[viewPolicy]; !ok || got.Scope.Type != "cluster" || got.AssociatedAt.IsZero() {
		t.Errorf("after the writes the observation holds policies %+v, want %s at cluster scope from EKS's answer", after.Policies, viewPolicy)
	}
	if after.Username != "before" || after.Tags["team"] != "" {
		t.Errorf("after refused writes the observation shows username %q and tags %v, want them unchanged", after.Username, after.Tags)
	}
	held := emu.Entries(account, region, "demo")
	i := slices.IndexFunc(held, func(e eksemulator.Entry) bool { return e.PrincipalARN == principal })
	if i < 0 || len(held[i].Policies) != 1 || held[i].Policies[0].PolicyARN != viewPolicy {
		t.Fatalf("entry %+v: the policy was held back by the refused update", held)
	}

	// With room made, only the spec's refusal is left, and it is terminal.
	if _, err := cl.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: []string{"k00", "k01"}}); err != nil {
		t.Fatal(err)
	}
	err = e.Apply(ctx, Entry{ID: id, ARN: entryARN}, p, after)
	if k := Classify(err); k != InvalidSpec || !strings.Contains(err.Error(), "updating username and groups") {
		t.Fatalf("Apply = %v (%s), want the username refusal", err, k)
	}
	held = emu.Entries(account, region, "demo")
	if held[i].Tags["team"] != "a" {
		t.Fatalf("tags %v: the tag was held back by the refused update", held[i].Tags)
	}
}
