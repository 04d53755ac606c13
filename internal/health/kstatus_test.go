package health

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// TestKstatus computes the kstatus status Flux (and other kstatus users) see for
// AccessEntry objects as the operator writes them.
func TestKstatus(t *testing.T) {
	// After --stall-after the operator replaces Reconciling with Stalled.
	const stuckMsg = notReadBackMsg + " (no progress for more than 5m0s)"
	stuck := stalled(1, v1.ReasonWaitingForEKS, stuckMsg)

	cases := []struct {
		name    string
		ae      *v1.AccessEntry
		want    status.Status
		message string // "" skips the message check
	}{{
		name: "synced at the current generation",
		ae:   entry(3, 3, synced(3)),
		want: status.CurrentStatus,
	}, {
		name:    "reconciling: waiting for EKS after a create",
		ae:      entry(1, 0, progressing(1, v1.ReasonWaitingForEKS, notReadBackMsg)),
		want:    status.InProgressStatus,
		message: notReadBackMsg,
	}, {
		name:    "reconciling an update of a synced entry",
		ae:      entry(2, 1, progressing(2, v1.ReasonProgressing, "updating the EKS access entry")),
		want:    status.InProgressStatus,
		message: "AccessEntry generation is 2, but latest observed generation is 1",
	}, {
		name:    "throttled",
		ae:      entry(1, 0, progressing(1, v1.ReasonThrottled, throttledMsg)),
		want:    status.InProgressStatus,
		message: throttledMsg,
	}, {
		name:    "stalled: the entry already exists",
		ae:      entry(1, 1, stalled(1, v1.ReasonAlreadyExists, alreadyExistMsg)),
		want:    status.FailedStatus,
		message: alreadyExistMsg,
	}, {
		name:    "stalled: EKS refused the spec",
		ae:      entry(2, 2, stalled(2, v1.ReasonInvalidSpec, invalidSpecMsg)),
		want:    status.FailedStatus,
		message: invalidSpecMsg,
	}, {
		name:    "synced, but a newer generation not handled yet",
		ae:      entry(4, 3, synced(3)),
		want:    status.InProgressStatus,
		message: "AccessEntry generation is 4, but latest observed generation is 3",
	}, {
		name:    "stalled after waiting for EKS too long",
		ae:      entry(1, 1, stuck),
		want:    status.FailedStatus,
		message: stuckMsg,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: toMap(t, tc.ae)}
			res, err := status.Compute(u)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if res.Status != tc.want {
				t.Errorf("status = %s (%q), want %s", res.Status, res.Message, tc.want)
			}
			if tc.message != "" && res.Message != tc.message {
				t.Errorf("message = %q, want %q", res.Message, tc.message)
			}
		})
	}
}
