package controllers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

// These tests run apply, the step that writes a plan, against the emulator in
// process (no kube-apiserver: they run in `make test-unit`).

// recordingEmulator serves the emulator and keeps the body of every request.
type recordingEmulator struct {
	mu     sync.Mutex
	bodies []string
}

func (rec *recordingEmulator) serve(t *testing.T, emu *eksemulator.Server) string {
	t.Helper()
	h := emu.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, r.Method+" "+r.URL.Path+" "+string(body))
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func applyWorld(t *testing.T) (*AccessEntryReconciler, EKSAPI, *eksemulator.Server, *recordingEmulator) {
	t.Helper()
	emu, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: "demo", Account: account, Region: region, AuthenticationMode: "API"}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingEmulator{}
	url := rec.serve(t, emu)
	clients := NewSDKClients(awsConfig(), ClientOptions{Endpoint: url, STSEndpoint: url})
	return &AccessEntryReconciler{}, clients.For(Target{Region: region}), emu, rec
}

// Removing the last group sends kubernetesGroups as an empty list: an update that
// leaves the field out relies on EKS resetting it, which it does not document.
func TestApplySendsAnEmptyGroupList(t *testing.T) {
	r, cl, _, rec := applyWorld(t)
	ctx := context.Background()
	principal := roleARN("no-groups-left")
	id := v1.EntryIdentity{ClusterName: "demo", Region: region, PrincipalARN: principal, Type: v1.TypeStandard}
	if _, err := cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("demo"), PrincipalArn: aws.String(principal), KubernetesGroups: []string{"viewers"}}); err != nil {
		t.Fatal(err)
	}
	d := plan.Desired{Identity: id, Tags: map[string]string{}}
	o := plan.Observed{Type: "STANDARD", Groups: []string{"viewers"}, Tags: map[string]string{}}
	if err := r.apply(ctx, cl, id, "", plan.Compute(d, o, nil), &o); err != nil {
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
	r, cl, emu, _ := applyWorld(t)
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
	err = r.apply(ctx, cl, id, entryARN, p, after)
	if k := classify(err); k != errRefused || !strings.Contains(err.Error(), "tagging the entry") {
		t.Fatalf("apply = %v (%s), want the tag refusal first", err, k)
	}
	// What EKS accepted is folded into the observation from its answers; what it
	// refused is not.
	if got, ok := after.Policies[viewPolicy]; !ok || got.Scope.Type != "cluster" || got.AssociatedAt.IsZero() {
		t.Errorf("after the writes the observation holds policies %+v, want %s at cluster scope from EKS's answer", after.Policies, viewPolicy)
	}
	if after.Username != "before" || after.Tags["team"] != "" {
		t.Errorf("after refused writes the observation shows username %q and tags %v, want them unchanged", after.Username, after.Tags)
	}
	e := emu.Entries(account, region, "demo")
	i := slices.IndexFunc(e, func(e eksemulator.Entry) bool { return e.PrincipalARN == principal })
	if i < 0 || len(e[i].Policies) != 1 || e[i].Policies[0].PolicyARN != viewPolicy {
		t.Fatalf("entry %+v: the policy was held back by the refused update", e)
	}

	// With room made, only the spec's refusal is left, and it is terminal.
	if _, err := cl.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(entryARN), TagKeys: []string{"k00", "k01"}}); err != nil {
		t.Fatal(err)
	}
	err = r.apply(ctx, cl, id, entryARN, p, after)
	if k := classify(err); k != errInvalidSpec || !strings.Contains(err.Error(), "updating username and groups") {
		t.Fatalf("apply = %v (%s), want the username refusal", err, k)
	}
	e = emu.Entries(account, region, "demo")
	if e[i].Tags["team"] != "a" {
		t.Fatalf("tags %v: the tag was held back by the refused update", e[i].Tags)
	}
}

// A spec naming a principal or policy of another partition than its region's is
// refused before anything is sent, naming the field and the ARN to use.
func TestCheckPartition(t *testing.T) {
	r := &AccessEntryReconciler{}
	cases := []struct {
		region, principal, policy string
		says                      []string // nil: accepted
	}{
		{"us-west-2", "arn:aws:iam::111122223333:role/r", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", nil},
		{"cn-north-1", "arn:aws-cn:iam::111122223333:role/r", "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", nil},
		{"eusc-de-east-1", "arn:aws-eusc:iam::111122223333:role/r", "arn:aws-eusc:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", nil},
		{"us-west-2", "arn:aws-cn:iam::111122223333:role/r", "", []string{"spec.principalARN", "partition aws-cn", "arn:aws:iam::111122223333:role/r"}},
		{"us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/r", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
			[]string{"spec.accessPolicies[0].policyARN", "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"}},
	}
	for _, c := range cases {
		ae := &v1.AccessEntry{Spec: v1.AccessEntrySpec{PrincipalARN: c.principal}}
		if c.policy != "" {
			ae.Spec.AccessPolicies = []v1.AccessPolicy{{PolicyARN: c.policy, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
		}
		p := &entryPass{ae: ae, id: v1.EntryIdentity{Region: c.region}}
		err := r.checkPartition(context.Background(), p)
		if c.says == nil {
			if err != nil {
				t.Errorf("%s in %s: %v", c.principal, c.region, err)
			}
			continue
		}
		o := outcomeOf(t, err)
		if o.reason != v1.ReasonInvalidSpec || !o.terminal {
			t.Errorf("%s in %s: %+v, want a terminal InvalidSpec", c.principal, c.region, o)
		}
		for _, s := range c.says {
			if !strings.Contains(o.message, s) {
				t.Errorf("%s in %s: %q does not say %q", c.principal, c.region, o.message, s)
			}
		}
	}
}
