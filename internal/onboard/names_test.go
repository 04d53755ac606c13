package onboard

import (
	"crypto/sha256"
	"encoding/hex"
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

// A suffixed name must not meet another principal's name: role/ops and user/ops
// both want demo-ops, and role/ops-<first 8 hex digits of role/ops's hash> holds
// the name that role/ops would get with 8 digits.
func TestSuffixedNamesAvoidEveryOtherName(t *testing.T) {
	sum := sha256.Sum256([]byte("arn:aws:iam::111122223333:role/ops"))
	h := hex.EncodeToString(sum[:])
	squatter := "arn:aws:iam::111122223333:role/ops-" + h[:8]
	objs := []*Object{
		{Spec: v1.AccessEntrySpec{PrincipalARN: "arn:aws:iam::111122223333:role/ops"}},
		{Spec: v1.AccessEntrySpec{PrincipalARN: "arn:aws:iam::111122223333:user/ops"}},
		{Spec: v1.AccessEntrySpec{PrincipalARN: squatter}},
	}
	assignNames(objs, "demo", "111122223333")
	if got, want := objs[2].Name, "demo-ops-"+h[:8]; got != want {
		t.Fatalf("the principal alone on its base name is named %s, want %s", got, want)
	}
	if got, want := objs[0].Name, "demo-ops-"+h[:12]; got != want {
		t.Fatalf("role/ops is named %s, want %s (its 8-digit name is taken, so 12 digits)", got, want)
	}
	if objs[1].Name == objs[0].Name || objs[1].Name == objs[2].Name || !strings.HasPrefix(objs[1].Name, "demo-ops-") {
		t.Fatalf("user/ops is named %s next to %s and %s", objs[1].Name, objs[0].Name, objs[2].Name)
	}
}

// A base name near the 253-character limit keeps its whole hash.
func TestSuffixedNameStaysWithinTheLimit(t *testing.T) {
	base := strings.Repeat("a", 250)
	n := suffixedName(base, "", "arn:aws:iam::111122223333:role/x", map[string]bool{})
	if len(n) != 253 || validation.IsDNS1123Subdomain(n) != nil {
		t.Fatalf("%d characters: %s", len(n), n)
	}
	sum := sha256.Sum256([]byte("arn:aws:iam::111122223333:role/x"))
	if !strings.HasSuffix(n, "-"+hex.EncodeToString(sum[:])[:8]) {
		t.Fatalf("%s lost part of its hash", n)
	}
}

// A name cut to fit keeps the principal's account and the whole hash: only the
// cluster and IAM name part is cut.
func TestCutNameKeepsAccountAndHash(t *testing.T) {
	cluster := strings.Repeat("c", 200)
	arn := "arn:aws:iam::444455556666:role/" + strings.Repeat("r", 64)
	p, _ := parsePrincipal(arn)
	base := baseName(cluster, p, "111122223333")
	if len(base) != 253 || !strings.HasSuffix(base, "-444455556666") || validation.IsDNS1123Subdomain(base) != nil {
		t.Fatalf("%d characters: %s", len(base), base)
	}
	head, tail := nameParts(cluster, p, "111122223333")
	n := suffixedName(head, tail, arn, map[string]bool{})
	sum := sha256.Sum256([]byte(arn))
	if len(n) != 253 || !strings.HasSuffix(n, "-444455556666-"+hex.EncodeToString(sum[:])[:8]) {
		t.Fatalf("%d characters: %s", len(n), n)
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
