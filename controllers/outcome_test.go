package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi/awsapitest"
	"github.com/eksaccess/eks-access-operator/internal/budget"
)

// These tests check how the AccessEntry controller words what internal/awsapi
// classifies; the classification itself is tested there (TestErrorClasses).

// eksErr and stsErr are AWS errors as the SDK returns them.
var eksErr, stsErr = awsapitest.EKSError, awsapitest.STSError

// TestOutcomeOfEachClass: what the user sees for each class: only invalid-spec is
// terminal, refused and denied ones are checked again every --recheck-interval.
func TestOutcomeOfEachClass(t *testing.T) {
	r := &AccessEntryReconciler{EntryOptions: EntryOptions{RecheckInterval: 42 * time.Second}}
	id := v1.EntryIdentity{ClusterName: "c", Region: "us-west-2", PrincipalARN: "arn:aws:iam::111122223333:role/r"}
	cases := []struct {
		err      error
		reason   string
		kind     outcomeKind
		terminal bool
		after    time.Duration
		says     string
	}{
		{eksErr("CreateAccessEntry", "InvalidParameterException", "The username must not begin with system:"), v1.ReasonInvalidSpec, kindStall, true, 0, "fix the spec"},
		{eksErr("TagResource", "BadRequestException", "Too many tags"), v1.ReasonRefusedByEKS, kindStall, false, 42 * time.Second, "untag-resource"},
		{eksErr("CreateAccessEntry", "InvalidRequestException", "Cluster is in UPDATING state."), v1.ReasonRefusedByEKS, kindStall, false, 42 * time.Second, "outside the spec"},
		{stsErr("AccessDenied", "User: u is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/x"), v1.ReasonAccessDenied, kindStall, false, 42 * time.Second, "arn:aws:iam::444455556666:role/x"},
		{eksErr("CreateAccessEntry", "UnrecognizedClientException", "bad"), v1.ReasonAccessDenied, kindStall, false, 42 * time.Second, "credentials"},
		{eksErr("CreateAccessEntry", "ServerException", "boom"), v1.ReasonEKSError, kindError, false, 0, "retrying"},
	}
	for _, c := range cases {
		var o *outcome
		if !errors.As(r.eksOutcome(id, c.err), &o) {
			t.Fatalf("%v: not an outcome", c.err)
		}
		if o.reason != c.reason || o.kind != c.kind || o.terminal != c.terminal || o.after != c.after || !strings.Contains(o.message, c.says) {
			t.Errorf("%v: %+v, want reason %s kind %d terminal %v after %s saying %q", c.err, *o, c.reason, c.kind, c.terminal, c.after, c.says)
		}
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

// TestThrottledRetriesSoon: a pass EKS throttled is tried again within 2 s,
// however long its object has been reconciling (the budget, cut by the
// throttle, paces it in its turn), while a wait for EKS to show an entry still
// backs off with that time. Backing off throttles too put the objects that had
// waited longest last: in the soak, a probe object waited 25 s more after each.
func TestThrottledRetriesSoon(t *testing.T) {
	r := &AccessEntryReconciler{Deps: Deps{AWS: testClients(awsConfig(), "http://127.0.0.1:1", &budget.Options{QPS: 10, Burst: 10})}}
	id := v1.EntryIdentity{ClusterName: "c", Region: "us-west-2", PrincipalARN: "arn:aws:iam::111122223333:role/r"}
	cases := []struct {
		err      error
		min, max time.Duration
	}{
		{eksErr("DescribeAccessEntry", "ThrottlingException", "Rate exceeded"), time.Second, 2 * time.Second},
		{eksErr("DescribeAccessEntry", "ResourceNotFoundException", "No access entry found"), maxBackoff, maxBackoff},
	}
	for _, c := range cases {
		ae := &v1.AccessEntry{}
		ae.Generation = 1
		meta.SetStatusCondition(&ae.Status.Conditions, metav1.Condition{Type: v1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: v1.ReasonProgressing,
			ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(time.Now().Add(-10 * time.Minute))})
		res, err := r.ending(ae, false).conclude(r.eksOutcome(id, c.err))
		if err != nil || res.RequeueAfter < c.min || res.RequeueAfter > c.max {
			t.Errorf("%v, 10 minutes reconciling: requeued after %s (%v), want %s to %s", c.err, res.RequeueAfter, err, c.min, c.max)
		}
	}
}

// The API server refuses an event whose note is over 1,024 bytes: a long
// message is cut, on a character boundary, and says so.
func TestEventNote(t *testing.T) {
	if got := eventNote("short"); got != "short" {
		t.Errorf("a short note changed: %q", got)
	}
	long := strings.Repeat("é", 600) // 1,200 bytes
	got := eventNote(long)
	if len(got) > maxEventNote || !utf8.ValidString(got) || !strings.HasSuffix(got, " …") || !strings.HasPrefix(long, strings.TrimSuffix(got, " …")) {
		t.Errorf("eventNote of %d bytes: %d bytes, valid UTF-8 %v: %q", len(long), len(got), utf8.ValidString(got), got[len(got)-10:])
	}
}
