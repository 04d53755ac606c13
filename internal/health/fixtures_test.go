package health

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Messages as the operator writes them, so that a test reads like the status a
// person would see.
const (
	syncedMsg       = "the EKS access entry matches the spec"
	notReadBackMsg  = "the EKS access entry was written but does not read back yet"
	throttledMsg    = "EKS is throttling the operator; retrying with backoff"
	alreadyExistMsg = `an EKS access entry for arn:aws:iam::111122223333:role/dev already exists in cluster prod and no operator manages it; annotate this object with eksaccess.io/adopt: "true" to take it over`
	invalidSpecMsg  = "EKS refused the entry: the username is invalid; fix the spec"
)

// repoRoot is the top folder of the repository, found from this file's location.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var transition = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func condition(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: gen, LastTransitionTime: transition}
}

// The condition sets below mirror the operator's ready, progressing and stalled
// helpers, in the order meta.SetStatusCondition leaves them.

func synced(gen int64) []metav1.Condition {
	return []metav1.Condition{condition(v1.ConditionReady, metav1.ConditionTrue, v1.ReasonSynced, syncedMsg, gen)}
}

func progressing(gen int64, reason, msg string) []metav1.Condition {
	return []metav1.Condition{
		condition(v1.ConditionReady, metav1.ConditionFalse, reason, msg, gen),
		condition(v1.ConditionReconciling, metav1.ConditionTrue, reason, msg, gen),
	}
}

func stalled(gen int64, reason, msg string) []metav1.Condition {
	return []metav1.Condition{
		condition(v1.ConditionReady, metav1.ConditionFalse, reason, msg, gen),
		condition(v1.ConditionStalled, metav1.ConditionTrue, reason, msg, gen),
	}
}

// entry is an AccessEntry at generation gen whose status the operator last wrote
// with status.observedGeneration observed (0 leaves it out, as omitempty does).
func entry(gen, observed int64, conds []metav1.Condition) *v1.AccessEntry {
	return &v1.AccessEntry{
		TypeMeta: metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "AccessEntry"},
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a", Generation: gen,
			CreationTimestamp: transition},
		Spec: v1.AccessEntrySpec{ClusterName: "prod", PrincipalARN: "arn:aws:iam::111122223333:role/dev",
			Type: v1.TypeStandard, DeletionPolicy: v1.DeletionPolicyDelete},
		Status: v1.AccessEntryStatus{ObservedGeneration: observed, Conditions: conds},
	}
}

// toMap converts an AccessEntry the way the API machinery hands it to clients.
func toMap(t *testing.T, ae *v1.AccessEntry) map[string]any {
	t.Helper()
	m, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(ae)
	if err != nil {
		t.Fatalf("converting the AccessEntry to unstructured: %v", err)
	}
	return m
}
