package testenv

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// AdmissionPolicies are the ValidatingAdmissionPolicies and their bindings that
// `kubectl apply -k config/default` installs, as kustomize renders them, and the
// username of the operator's ServiceAccount there.
type AdmissionPolicies struct {
	Objects []*unstructured.Unstructured
	// OperatorUser is system:serviceaccount:NAMESPACE:NAME of the rendered
	// ServiceAccount.
	OperatorUser string
}

// RenderAdmission renders config/default and keeps its admission policies.
func RenderAdmission() (*AdmissionPolicies, error) {
	opts := krusty.MakeDefaultOptions()
	res, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(RepoRoot(), "config", "default"))
	if err != nil {
		return nil, fmt.Errorf("rendering config/default: %w", err)
	}
	out := &AdmissionPolicies{}
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		switch u.GetKind() {
		case "ServiceAccount":
			out.OperatorUser = "system:serviceaccount:" + u.GetNamespace() + ":" + u.GetName()
		case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			out.Objects = append(out.Objects, u)
		}
	}
	if out.OperatorUser == "" || len(out.Objects) == 0 {
		return nil, fmt.Errorf("config/default renders no ServiceAccount or no admission policy")
	}
	return out, nil
}

// InstallAdmission installs config/default's admission policies with an admin
// client, the operator's username in them replaced by operatorUser: the suite's
// managers run as the ServiceAccount of config/rbac, which config/default
// renames. A policy that does not name the rendered ServiceAccount is an error:
// it would refuse the installed operator.
func InstallAdmission(ctx context.Context, c client.Client, operatorUser string) error {
	a, err := RenderAdmission()
	if err != nil {
		return err
	}
	for _, u := range a.Objects {
		if u.GetKind() == "ValidatingAdmissionPolicy" {
			if err := replaceUser(u, a.OperatorUser, operatorUser); err != nil {
				return err
			}
		}
		u.SetNamespace("") // cluster-scoped
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// replaceUser replaces the quoted username in a policy's variables. A policy
// with a variable named operator (one that exempts the operator) must name the
// rendered ServiceAccount in it; a policy without one exempts nobody.
func replaceUser(policy *unstructured.Unstructured, from, to string) error {
	vars, _, err := unstructured.NestedSlice(policy.Object, "spec", "variables")
	if err != nil {
		return err
	}
	found, exempts := false, false
	for _, v := range vars {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		exempts = exempts || m["name"] == "operator"
		if expr, ok := m["expression"].(string); ok && strings.Contains(expr, "'"+from+"'") {
			m["expression"], found = strings.ReplaceAll(expr, "'"+from+"'", "'"+to+"'"), true
		}
	}
	if exempts && !found {
		return fmt.Errorf("ValidatingAdmissionPolicy %s does not name the operator's ServiceAccount %s, which config/default installs", policy.GetName(), from)
	}
	return unstructured.SetNestedSlice(policy.Object, vars, "spec", "variables")
}
