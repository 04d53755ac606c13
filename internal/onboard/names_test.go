package onboard

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

func TestBaseName(t *testing.T) {
	for _, tc := range []struct{ cluster, arn, want string }{
		{"demo", "arn:aws:iam::111122223333:role/platform-admins", "demo-platform-admins"},
		{"demo", "arn:aws:iam::111122223333:role/demo-gpu-nodes", "demo-gpu-nodes"},
		{"demo", "arn:aws:iam::111122223333:role/demolition", "demo-demolition"},
		{"Prod_EU", "arn:aws:iam::111122223333:role/Admin", "prod-eu-admin"},
		{"demo", "arn:aws:iam::111122223333:user/ops/bob.smith@example.com", "demo-bob-smith-example-com"},
		{"demo", "arn:aws:iam::444455556666:role/ci/deployer", "demo-deployer-444455556666"},
		{"demo", "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Data_Eng_0123456789abcdef", "demo-data-eng"},
		{"demo", "arn:aws:iam::111122223333:user/AWSReservedSSO_Data_x", "demo-awsreservedsso-data-x"},
		{"demo", "arn:aws:iam::111122223333:role/___", "demo-principal"},
	} {
		p, ok := parsePrincipal(tc.arn)
		if !ok {
			t.Fatalf("%s does not parse", tc.arn)
		}
		got := baseName(tc.cluster, p, "111122223333")
		if got != tc.want {
			t.Errorf("baseName(%s, %s) = %s, want %s", tc.cluster, tc.arn, got, tc.want)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("%s: %v", got, errs)
		}
	}
}

func TestAssignNamesIsUniqueAndStable(t *testing.T) {
	arns := []string{
		"arn:aws:iam::111122223333:role/ops",
		"arn:aws:iam::111122223333:user/ops", // a role and a user of one name
		"arn:aws:iam::111122223333:role/data_eng",
		"arn:aws:iam::111122223333:role/data.eng", // differ only in characters names cannot hold
		"arn:aws:iam::111122223333:role/viewers",
	}
	names := func(order []string) map[string]string {
		var objs []*Object
		for _, a := range order {
			objs = append(objs, &Object{Spec: v1.AccessEntrySpec{PrincipalARN: a}})
		}
		assignNames(objs, "demo", "111122223333")
		out := map[string]string{}
		for _, o := range objs {
			out[o.Spec.PrincipalARN] = o.Name
		}
		return out
	}
	got := names(arns)
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Fatalf("name %s given twice: %v", n, got)
		}
		seen[n] = true
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			t.Fatalf("%s: %v", n, errs)
		}
	}
	if got["arn:aws:iam::111122223333:role/viewers"] != "demo-viewers" {
		t.Fatalf("a name without collision got a suffix: %v", got)
	}
	if n := got["arn:aws:iam::111122223333:role/ops"]; !strings.HasPrefix(n, "demo-ops-") || len(n) != len("demo-ops-")+8 {
		t.Fatalf("colliding names get an 8-character hash: %v", got)
	}
	reversed := slices.Clone(arns)
	slices.Reverse(reversed)
	if again := names(reversed); !equality.Semantic.DeepEqual(again, got) {
		t.Fatalf("names depend on the input order:\n%v\n%v", got, again)
	}
}

// Values that YAML would read as something else, or not at all, unquoted.
func TestWriteYAMLQuotesWhatNeedsIt(t *testing.T) {
	tricky := []string{"true", "no", "null", "~", "0123", "1e3", "", " lead", "trail ", "a: b", "#x", "- x", "{{SessionName}}",
		"dev:{{SessionName}}", "'q'", "\"dq\"", "multi\nline", "tab\tchar", "ünïcode", "@at", "`tick`", "x #y", "*star", "&anchor", "!tag", "%pct", "|pipe", ">gt"}
	tags := map[string]v1.TagValue{}
	for i, s := range tricky {
		tags["k"+string(rune('a'+i))] = v1.TagValue(s)
		if s != "" {
			tags[s] = "key"
		}
	}
	obj := Object{Name: "x", Namespace: "default", Annotations: map[string]string{v1.AdoptAnnotation: "true"},
		Spec: v1.AccessEntrySpec{ClusterName: "demo", PrincipalARN: roleARN("x"), Username: "dev:{{SessionName}}", Tags: tags}}
	parsed := parseDocuments(t, yamlOf(t, []Object{obj}))
	if len(parsed) != 1 || !equality.Semantic.DeepEqual(parsed[0], obj.AccessEntry()) {
		t.Fatalf("round trip:\n%s\nreads back as %+v", yamlOf(t, []Object{obj}), parsed)
	}
}

func TestUsernameProblem(t *testing.T) {
	for u, bad := range map[string]bool{
		"dev:{{SessionName}}":                  false,
		"{{SessionName}}":                      true,
		"dev-{{SessionName}}:x":                true,
		"a:b-{{SessionName}}":                  false,
		"system:admin":                         true,
		"iam:x":                                true,
		"eks-admin":                            false,
		"observability:{{SessionNameRaw}}":     false,
		strings.Repeat("u", 513):               true,
		"arn:aws:iam::111122223333:user/alice": false,
	} {
		if got := usernameProblem(u) != ""; got != bad {
			t.Errorf("usernameProblem(%.20q) = %v, want %v", u, usernameProblem(u), bad)
		}
	}
}
