package e2e

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// TestAdmissionPolicyNamesTheOperator: the finalizer's admission policy exempts
// the operator's own ServiceAccount, as each install names it (config/default,
// and the chart under any release, namespace and serviceAccount.name), and the
// chart's policy is config/admission's otherwise.
func TestAdmissionPolicyNamesTheOperator(t *testing.T) {
	cfg, err := testenv.RenderAdmission()
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + namespace + ":eks-access-operator-controller-manager"; cfg.OperatorUser != want {
		t.Errorf("config/default's ServiceAccount is %s, want %s", cfg.OperatorUser, want)
	}
	byKind := func(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
		for _, o := range objs {
			if o.GetKind() == kind {
				return o
			}
		}
		t.Fatalf("no %s", kind)
		return nil
	}
	cfgPolicy := byKind(cfg.Objects, "ValidatingAdmissionPolicy")
	if b := byKind(cfg.Objects, "ValidatingAdmissionPolicyBinding"); b.Object["spec"].(map[string]any)["policyName"] != cfgPolicy.GetName() {
		t.Errorf("config/default's binding names %v, the policy is %s", b.Object["spec"], cfgPolicy.GetName())
	}
	operator := func(p *unstructured.Unstructured) string {
		vars, _, _ := unstructured.NestedSlice(p.Object, "spec", "variables")
		for _, v := range vars {
			if m := v.(map[string]any); m["name"] == "operator" {
				return m["expression"].(string)
			}
		}
		return ""
	}
	if want := "request.userInfo.username == '" + cfg.OperatorUser + "'"; operator(cfgPolicy) != want {
		t.Errorf("config/admission exempts %q, want %q", operator(cfgPolicy), want)
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
		policy := byKind(r.Objects, "ValidatingAdmissionPolicy")
		if got, want := operator(policy), "request.userInfo.username == '"+tc.user+"'"; got != want {
			t.Errorf("release %s: the chart exempts %q, want %q", tc.release, got, want)
		}
		if b := byKind(r.Objects, "ValidatingAdmissionPolicyBinding"); b.Object["spec"].(map[string]any)["policyName"] != policy.GetName() {
			t.Errorf("release %s: the binding names %v, the policy is %s", tc.release, b.Object["spec"], policy.GetName())
		}
		got, want := policy.Object["spec"], cfgPolicy.Object["spec"]
		if strings.ReplaceAll(toString(got), tc.user, "USER") != strings.ReplaceAll(toString(want), cfg.OperatorUser, "USER") {
			t.Errorf("release %s: the chart's policy\n%v\nconfig/admission's\n%v", tc.release, got, want)
		}
	}
}

func toString(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(data)
}
