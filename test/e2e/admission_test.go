package e2e

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestAdmissionPolicyNamesTheOperator: the finalizer's admission policy exempts
// the operator's own ServiceAccount, as each install names it (config/default,
// and the chart under any release, namespace and serviceAccount.name); the
// request-identity policy exempts nobody; and each of the chart's policies is
// config/admission's otherwise, with a binding of its own.
func TestAdmissionPolicyNamesTheOperator(t *testing.T) {
	cfg, err := testenv.RenderAdmission()
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + namespace + ":eks-access-operator-controller-manager"; cfg.OperatorUser != want {
		t.Errorf("config/default's ServiceAccount is %s, want %s", cfg.OperatorUser, want)
	}
	cfgPolicies := policies(t, "config/default", cfg.Objects)
	if len(cfgPolicies) != 2 || cfgPolicies["finalizer-guard"] == nil || cfgPolicies["request-identity"] == nil {
		t.Fatalf("config/default's policies are %v, want finalizer-guard and request-identity", keys(cfgPolicies))
	}
	if want := "request.userInfo.username == '" + cfg.OperatorUser + "'"; operatorExempt(cfgPolicies["finalizer-guard"]) != want {
		t.Errorf("config/admission exempts %q, want %q", operatorExempt(cfgPolicies["finalizer-guard"]), want)
	}
	if got := operatorExempt(cfgPolicies["request-identity"]); got != "" {
		t.Errorf("the request-identity policy exempts %q: it must exempt nobody", got)
	}

	for _, tc := range []struct {
		release, ns string
		values      map[string]any
		user        string
	}{
		{"eks-access-operator", namespace, nil, "system:serviceaccount:" + namespace + ":eks-access-operator-controller-manager"},
		{"access", "platform", map[string]any{"serviceAccount": map[string]any{"name": "ops"}}, "system:serviceaccount:platform:ops"},
	} {
		r := mustRender(t, tc.release, tc.ns, tc.values)
		chart := policies(t, "release "+tc.release, r.Objects)
		if got, want := operatorExempt(chart["finalizer-guard"]), "request.userInfo.username == '"+tc.user+"'"; got != want {
			t.Errorf("release %s: the chart exempts %q, want %q", tc.release, got, want)
		}
		for name, want := range cfgPolicies {
			got := chart[name]
			if got == nil {
				t.Errorf("release %s: the chart has no %s policy", tc.release, name)
				continue
			}
			if strings.ReplaceAll(toString(got.Object["spec"]), tc.user, "USER") != strings.ReplaceAll(toString(want.Object["spec"]), cfg.OperatorUser, "USER") {
				t.Errorf("release %s: the chart's %s policy\n%v\nconfig/admission's\n%v", tc.release, name, got.Object["spec"], want.Object["spec"])
			}
		}
		if len(chart) != len(cfgPolicies) {
			t.Errorf("release %s: the chart's policies are %v, config/admission's %v", tc.release, keys(chart), keys(cfgPolicies))
		}
	}
}

// policies are the rendered ValidatingAdmissionPolicies by the name they end
// in after the install's prefix (finalizer-guard, request-identity), each
// checked to have a binding of its own name that binds it.
func policies(t *testing.T, where string, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	bound := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "ValidatingAdmissionPolicyBinding" {
			if name, _, _ := unstructured.NestedString(o.Object, "spec", "policyName"); name == o.GetName() {
				bound[name] = true
			}
		}
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() != "ValidatingAdmissionPolicy" {
			continue
		}
		if !bound[o.GetName()] {
			t.Errorf("%s: no binding of its own name binds the policy %s", where, o.GetName())
		}
		for _, base := range []string{"finalizer-guard", "request-identity"} {
			if strings.HasSuffix(o.GetName(), "-"+base) {
				out[base] = o
			}
		}
	}
	return out
}

// operatorExempt is the expression of a policy's variable named operator, ""
// without one.
func operatorExempt(p *unstructured.Unstructured) string {
	if p == nil {
		return ""
	}
	vars, _, _ := unstructured.NestedSlice(p.Object, "spec", "variables")
	for _, v := range vars {
		if m := v.(map[string]any); m["name"] == "operator" {
			return m["expression"].(string)
		}
	}
	return ""
}

func keys(m map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func toString(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}
