package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// features are the guards of issue 25 this build has. The adversary attacks
// whether or not they are there; an invariant that only a missing guard keeps
// is reported as awaiting it, and fails the run only with --strict.
type features struct {
	// admission: config/admission holds an admission policy (only the operator
	// removes its finalizer), which the soak installed.
	admission bool
	// allowRetain: GrantRule has allowRetain, and tenant leftovers are judged
	// against their namespace's current rule (the same change, issue 25 (a)).
	allowRetain bool
	// siblings: a {{namespace}}-* pattern does not reach a sibling namespace's
	// values (issue 25 (b)), as guardrails.Judge answers for soak-t1.
	siblings bool
	// limits: GrantRule has maxEntriesPerNamespace (issue 25 (c)).
	limits bool
	// why says, for each missing guard, how the soak found out.
	why map[string]string
}

// The guards, as the report names them.
const (
	featAdmission = "the admission policy on the finalizer (config/admission)"
	featRetain    = "allowRetain and the pruning of tenant leftovers by their namespace's current rule"
	featSiblings  = "{{namespace}} patterns that stop at a sibling namespace"
	featLimits    = "per-namespace entry limits (maxEntriesPerNamespace)"
)

func (f features) has(name string) bool {
	switch name {
	case featAdmission:
		return f.admission
	case featRetain:
		return f.allowRetain
	case featSiblings:
		return f.siblings
	case featLimits:
		return f.limits
	}
	return true
}

// detectFeatures reads the installed ClusterAccessConfig CRD for the new rule
// fields, asks guardrails.Judge about a sibling's group, and installs what
// config/admission holds.
func detectFeatures(ctx context.Context, k8s client.Client) (features, error) {
	f := features{why: map[string]string{}}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8s.Get(ctx, client.ObjectKey{Name: "clusteraccessconfigs.eksaccess.io"}, crd); err != nil {
		return f, err
	}
	schemaJSON, err := json.Marshal(crd.Object["spec"])
	if err != nil {
		return f, err
	}
	f.allowRetain = bytes.Contains(schemaJSON, []byte(`"allowRetain"`))
	f.limits = bytes.Contains(schemaJSON, []byte(`"maxEntriesPerNamespace"`))
	if !f.allowRetain {
		f.why[featRetain] = "the ClusterAccessConfig CRD has no allowRetain"
	}
	if !f.limits {
		f.why[featLimits] = "the ClusterAccessConfig CRD has no maxEntriesPerNamespace"
	}
	reach := guardrails.Judge(guardrails.Config{Name: "probe", Rules: ruleSets["loose"]}, guardrails.Request{Namespace: tenants[0],
		Principal: "arn:aws:iam::" + account + ":role/soak/" + tenants[0] + "-x", Type: v1.TypeStandard, Groups: []string{sibling + "-ops"}})
	f.siblings = !reach.Allowed()
	if !f.siblings {
		f.why[featSiblings] = "guardrails.Judge lets " + tenants[0] + " give group " + sibling + "-ops under {{namespace}}-*"
	}
	n, err := installAdmission(ctx, k8s)
	switch {
	case err != nil:
		return f, err
	case n == 0:
		f.why[featAdmission] = "config/admission holds no manifest"
	default:
		f.admission = true
	}
	return f, nil
}

// installAdmission installs config/default's admission policies, exempting
// the identity the operator runs as here (config/rbac's ServiceAccount, which
// config/default renames); it returns how many objects it installed.
func installAdmission(ctx context.Context, k8s client.Client) (int, error) {
	a, err := testenv.RenderAdmission()
	if err != nil {
		return 0, err
	}
	m, err := testenv.ReadManagerRBAC()
	if err != nil {
		return 0, err
	}
	if err := testenv.InstallAdmission(ctx, k8s, m.Username()); err != nil {
		return 0, err
	}
	return len(a.Objects), nil
}

// gaps says which guards are missing, for the report.
func (f features) gaps() []string {
	var out []string
	for _, name := range []string{featAdmission, featRetain, featSiblings, featLimits} {
		if !f.has(name) {
			out = append(out, name+" ("+f.why[name]+")")
		}
	}
	return out
}

// present lists the guards the build has.
func (f features) present() string {
	var out []string
	for _, name := range []string{featAdmission, featRetain, featSiblings, featLimits} {
		if f.has(name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}
