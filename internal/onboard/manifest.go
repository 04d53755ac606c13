package onboard

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Object is one AccessEntry manifest to print.
type Object struct {
	Name        string
	Namespace   string
	Annotations map[string]string
	Spec        v1.AccessEntrySpec
	// Comment, when set, is printed above the document (one line, without '#').
	Comment string
}

// AccessEntry is the object as the API type, for applying and comparing.
func (o Object) AccessEntry() *v1.AccessEntry {
	ae := &v1.AccessEntry{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1.GroupVersion.String(), Kind: "AccessEntry"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace},
		Spec:       *o.Spec.DeepCopy(),
	}
	if len(o.Annotations) > 0 {
		ae.Annotations = maps.Clone(o.Annotations)
	}
	return ae
}

// WriteYAML prints the objects as one multi-document YAML stream, in the order given.
// Fields come in the order people read them (the order of config/samples), not
// alphabetically as a generic marshaller would put them.
func WriteYAML(w io.Writer, objs []Object) error {
	var b strings.Builder
	for i, o := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		writeObject(&b, o)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeObject(b *strings.Builder, o Object) {
	if o.Comment != "" {
		fmt.Fprintf(b, "# %s\n", o.Comment)
	}
	fmt.Fprintf(b, "apiVersion: %s\nkind: AccessEntry\nmetadata:\n", v1.GroupVersion.String())
	field(b, 1, "name", o.Name)
	field(b, 1, "namespace", o.Namespace)
	if len(o.Annotations) > 0 {
		b.WriteString("  annotations:\n")
		for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
			field(b, 2, k, o.Annotations[k])
		}
	}
	s := o.Spec
	b.WriteString("spec:\n")
	field(b, 1, "clusterName", s.ClusterName)
	if s.Region != "" {
		field(b, 1, "region", s.Region)
	}
	if ic := s.IdentityCenter; ic != nil {
		b.WriteString("  identityCenter:\n")
		field(b, 2, "permissionSet", ic.PermissionSet)
		if ic.Account != "" {
			field(b, 2, "account", ic.Account)
		}
	} else {
		field(b, 1, "principalARN", s.PrincipalARN)
	}
	if s.Type != "" {
		field(b, 1, "type", string(s.Type))
	}
	if s.Username != "" {
		field(b, 1, "username", s.Username)
	}
	if len(s.KubernetesGroups) > 0 {
		b.WriteString("  kubernetesGroups:\n")
		for _, g := range s.KubernetesGroups {
			item(b, 2, string(g))
		}
	}
	if len(s.AccessPolicies) > 0 {
		b.WriteString("  accessPolicies:\n")
		for _, p := range s.AccessPolicies {
			fmt.Fprintf(b, "    - policyARN: %s\n", scalar(p.PolicyARN))
			b.WriteString("      accessScope:\n")
			field(b, 4, "type", string(p.AccessScope.Type))
			if len(p.AccessScope.Namespaces) > 0 {
				b.WriteString("        namespaces:\n")
				for _, n := range p.AccessScope.Namespaces {
					item(b, 5, string(n))
				}
			}
		}
	}
	if len(s.Tags) > 0 {
		b.WriteString("  tags:\n")
		for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
			field(b, 2, k, string(s.Tags[k]))
		}
	}
	if s.DeletionPolicy != "" {
		field(b, 1, "deletionPolicy", string(s.DeletionPolicy))
	}
}

func field(b *strings.Builder, depth int, key, value string) {
	fmt.Fprintf(b, "%s%s: %s\n", strings.Repeat("  ", depth), scalar(key), scalar(value))
}

func item(b *strings.Builder, depth int, value string) {
	fmt.Fprintf(b, "%s- %s\n", strings.Repeat("  ", depth), scalar(value))
}

// scalar is s as a one-line YAML scalar: plain where YAML reads it back as the same
// string, quoted otherwise ("true", "{{SessionName}}", "0123" need quotes).
func scalar(s string) string {
	out, err := yaml.Marshal(s)
	if q := strings.TrimSuffix(string(out), "\n"); err == nil && !strings.Contains(q, "\n") {
		return q
	}
	// A JSON string is a valid double-quoted YAML scalar, and stays on one line.
	j, _ := json.Marshal(s)
	return string(j)
}
