package health

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// healthKey is the argocd-cm key Argo CD reads a custom health check from:
// resource.customizations.health.<group>_<kind>.
const healthKey = "resource.customizations.health.eksaccess.io_AccessEntry"

func readHealthScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withJSONNumbers round-trips obj through JSON decoded with UseNumber, the other
// number representation an unstructured object can carry (Argo CD turns it into a
// Lua string).
func withJSONNumbers(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArgoCDHealth(t *testing.T) {
	script := readHealthScript(t)

	// WaitingForEKS past --stall-after: the operator keeps Reconciling and adds Stalled.
	// After --stall-after the operator replaces Reconciling with Stalled.
	const stuckMsg = notReadBackMsg + " (no progress for more than 5m0s)"
	stuck := stalled(1, v1.ReasonWaitingForEKS, stuckMsg)

	cases := []struct {
		name string
		obj  func(t *testing.T) map[string]any
		want ArgoHealth
	}{{
		name: "no status yet",
		obj: func(t *testing.T) map[string]any {
			m := toMap(t, entry(1, 0, nil))
			delete(m, "status")
			return m
		},
		want: ArgoHealth{"Progressing", "Waiting for the operator"},
	}, {
		name: "status without conditions",
		obj:  func(t *testing.T) map[string]any { return toMap(t, entry(1, 0, nil)) },
		want: ArgoHealth{"Progressing", "Waiting for the operator"},
	}, {
		name: "synced at the current generation",
		obj:  func(t *testing.T) map[string]any { return toMap(t, entry(3, 3, synced(3))) },
		want: ArgoHealth{"Healthy", syncedMsg},
	}, {
		name: "synced, but a newer generation not handled yet",
		obj:  func(t *testing.T) map[string]any { return toMap(t, entry(4, 3, synced(3))) },
		want: ArgoHealth{"Progressing", "Waiting for the operator to handle generation 4"},
	}, {
		name: "synced, numbers as json.Number",
		obj:  func(t *testing.T) map[string]any { return withJSONNumbers(t, toMap(t, entry(3, 3, synced(3)))) },
		want: ArgoHealth{"Healthy", syncedMsg},
	}, {
		name: "behind, numbers as json.Number",
		obj:  func(t *testing.T) map[string]any { return withJSONNumbers(t, toMap(t, entry(4, 3, synced(3)))) },
		want: ArgoHealth{"Progressing", "Waiting for the operator to handle generation 4"},
	}, {
		name: "reconciling: waiting for EKS after a create",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(1, 0, progressing(1, v1.ReasonWaitingForEKS, notReadBackMsg)))
		},
		want: ArgoHealth{"Progressing", notReadBackMsg},
	}, {
		name: "reconciling an update of a synced entry",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(2, 1, progressing(2, v1.ReasonProgressing, "updating the EKS access entry")))
		},
		want: ArgoHealth{"Progressing", "updating the EKS access entry"},
	}, {
		name: "throttled",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(1, 0, progressing(1, v1.ReasonThrottled, throttledMsg)))
		},
		want: ArgoHealth{"Progressing", throttledMsg},
	}, {
		name: "stalled: the entry already exists",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(1, 1, stalled(1, v1.ReasonAlreadyExists, alreadyExistMsg)))
		},
		want: ArgoHealth{"Degraded", alreadyExistMsg},
	}, {
		// The operator leaves status.observedGeneration behind for this reason; the
		// Stalled condition's own observedGeneration still says it is about the spec now.
		name: "stalled at a new generation, status.observedGeneration behind",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(2, 1, stalled(2, v1.ReasonAlreadyExists, alreadyExistMsg)))
		},
		want: ArgoHealth{"Degraded", alreadyExistMsg},
	}, {
		name: "stalled: EKS refused the spec",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(2, 2, stalled(2, v1.ReasonInvalidSpec, invalidSpecMsg)))
		},
		want: ArgoHealth{"Degraded", invalidSpecMsg},
	}, {
		name: "stalled for an older generation: the fix is not handled yet",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(3, 2, stalled(2, v1.ReasonInvalidSpec, invalidSpecMsg)))
		},
		want: ArgoHealth{"Progressing", "Waiting for the operator to handle generation 3"},
	}, {
		name: "stalled after waiting for EKS too long",
		obj:  func(t *testing.T) map[string]any { return toMap(t, entry(1, 1, stuck)) },
		want: ArgoHealth{"Degraded", stuckMsg},
	}, {
		name: "stalled without a message",
		obj: func(t *testing.T) map[string]any {
			return toMap(t, entry(1, 1, stalled(1, v1.ReasonNoRegion, "")))
		},
		want: ArgoHealth{"Degraded", "Stalled: NoRegion"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EvalArgoCD(script, tc.obj(t))
			if err != nil {
				t.Fatalf("running health.lua: %v", err)
			}
			if got != tc.want {
				t.Errorf("health = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestArgoCDHealthRunsWithoutStandardLibraries guards the evaluator: a script that
// needs the string library must fail here as it fails in Argo CD, or the cases
// above would prove less than they claim.
func TestArgoCDHealthRunsWithoutStandardLibraries(t *testing.T) {
	obj := toMap(t, entry(1, 1, synced(1)))
	_, err := EvalArgoCD(`return { status = string.upper("healthy") }`, obj)
	if err == nil {
		t.Fatal("a script calling string.upper ran; Argo CD does not open the string library for argocd-cm health checks")
	}
}

func TestArgoCDConfigMapEmbedsHealthScript(t *testing.T) {
	script := readHealthScript(t)
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "argocd", "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		t.Fatalf("argocd-cm-patch.yaml: %v", err)
	}
	if cm.Kind != "ConfigMap" || cm.APIVersion != "v1" || cm.Name != "argocd-cm" {
		t.Errorf("argocd-cm-patch.yaml is %s %s %q, want v1 ConfigMap \"argocd-cm\"", cm.APIVersion, cm.Kind, cm.Name)
	}
	got, ok := cm.Data[healthKey]
	if !ok {
		t.Fatalf("argocd-cm-patch.yaml has no data key %s (keys: %v)", healthKey, keys(cm.Data))
	}
	if got != script {
		t.Errorf("the script in argocd-cm-patch.yaml differs from config/argocd/health.lua at byte %d", firstDiff(got, script))
	}
	if len(cm.Data) != 1 {
		t.Errorf("argocd-cm-patch.yaml sets %v; a patch of Argo CD's own ConfigMap should set only %s", keys(cm.Data), healthKey)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func firstDiff(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) == len(b) {
		return -1
	}
	return n
}
