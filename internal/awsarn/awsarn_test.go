package awsarn

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// crdPatterns are the regular expressions of the generated AccessEntry CRD.
type crdPatterns struct {
	principal, policy *regexp.Regexp
}

// crdRules reads the CRD's self.matches() rules for principalARN and policyARN
// from config/crd/bases, so that the parsers are held to what the API server admits.
func crdRules(t testing.TB) crdPatterns {
	t.Helper()
	data, err := os.ReadFile("../../config/crd/bases/eksaccess.io_accessentries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	find := func(prefix string) *regexp.Regexp {
		for _, line := range strings.Split(string(data), "\n") {
			_, rule, ok := strings.Cut(line, "rule: self.matches('"+prefix)
			if ok {
				return regexp.MustCompile(prefix + strings.TrimSuffix(rule, "')"))
			}
		}
		t.Fatalf("the CRD has no rule self.matches('%s...')", prefix)
		return nil
	}
	return crdPatterns{principal: find("^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::"), policy: find("^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):eks::")}
}

func TestParsePrincipal(t *testing.T) {
	cases := []struct {
		in   string
		want Principal
		ok   bool
	}{
		{in: "arn:aws:iam::111122223333:role/my-role", ok: true,
			want: Principal{Partition: "aws", Account: "111122223333", Kind: "role", Name: "my-role"}},
		{in: "arn:aws:iam::111122223333:role/development/apps/r1", ok: true,
			want: Principal{Partition: "aws", Account: "111122223333", Kind: "role", Path: "development/apps/", Name: "r1"}},
		{in: "arn:aws-us-gov:iam::111122223333:user/alice", ok: true,
			want: Principal{Partition: "aws-us-gov", Account: "111122223333", Kind: "user", Name: "alice"}},
		{in: "arn:aws:sts::111122223333:assumed-role/r/session"},
		{in: "arn:aws:iam::111122223333:root"},
		{in: "arn:aws:iam::11112222333:role/short-account"},
		{in: "arn:aws:iam:us-west-2:111122223333:role/regional"},
		{in: "arn:other:iam::111122223333:role/unknown-partition"},
		{in: "arn:aws:iam::111122223333:role/a//b"},
		{in: "arn:aws:iam::111122223333:role/"},
		{in: "arn:aws:iam::111122223333:role/bad*name"},
		{in: "arn:aws:iam::111122223333:role/" + strings.Repeat("n", 65)},
		{in: "role/my-role"},
	}
	for _, c := range cases {
		got, ok := ParsePrincipal(c.in)
		if c.ok {
			c.want.ARN = c.in
		}
		if ok != c.ok || got != c.want {
			t.Errorf("ParsePrincipal(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestDefaultUsername(t *testing.T) {
	cases := map[string]string{
		"arn:aws:iam::111122223333:user/alice":               "arn:aws:iam::111122223333:user/alice",
		"arn:aws:iam::111122223333:role/my-role":             "arn:aws:sts::111122223333:assumed-role/my-role/{{SessionName}}",
		"arn:aws:iam::111122223333:role/development/apps/r1": "arn:aws:sts::111122223333:assumed-role/r1/{{SessionName}}",
		"arn:aws-cn:iam::111122223333:role/r":                "arn:aws-cn:sts::111122223333:assumed-role/r/{{SessionName}}",
		"not:an:arn:at:all:x":                                "",
	}
	for arn, want := range cases {
		if got := DefaultUsername(arn); got != want {
			t.Errorf("DefaultUsername(%s) = %s, want %s", arn, got, want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	view := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	if p, ok := ParsePolicy(view); !ok || p != (Policy{ARN: view, Partition: "aws", Name: "AmazonEKSViewPolicy"}) {
		t.Errorf("ParsePolicy(%s) = %+v, %v", view, p, ok)
	}
	for _, bad := range []string{
		"arn:aws:eks::111122223333:cluster-access-policy/AmazonEKSViewPolicy",
		"arn:aws:iam::aws:policy/AdministratorAccess",
		"arn:aws:eks::aws:cluster-access-policy/",
		"arn:aws:eks:us-west-2:aws:cluster-access-policy/AmazonEKSViewPolicy",
	} {
		if p, ok := ParsePolicy(bad); ok {
			t.Errorf("ParsePolicy(%s) = %+v, want false", bad, p)
		}
	}
	if got := PolicyARN("aws-cn", "AmazonEKSAdminPolicy"); got != "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy" {
		t.Errorf("PolicyARN = %s", got)
	}
}

func TestAccountOf(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::444455556666:role/operator":                                    "444455556666",
		"arn:aws:eks:us-west-2:111122223333:access-entry/demo/role/111122223333/x/1": "111122223333",
		"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy":                 "aws",
	} {
		if got, ok := AccountOf(in); !ok || got != want {
			t.Errorf("AccountOf(%s) = %q, %v; want %s", in, got, ok, want)
		}
	}
	if got, ok := AccountOf("not-an-arn"); ok {
		t.Errorf("AccountOf(not-an-arn) = %q, true", got)
	}
}

func TestPartitionOfRegion(t *testing.T) {
	for _, p := range Partitions {
		if got := PartitionOfRegion(ExampleRegion(p)); got != p {
			t.Errorf("PartitionOfRegion(%s) = %s, want %s", ExampleRegion(p), got, p)
		}
	}
	for region, want := range map[string]string{"eu-central-1": "aws", "il-central-1": "aws", "mx-central-1": "aws", "ap-southeast-7": "aws",
		"us-isof-east-1": "aws-iso-f", "us-iso-west-1": "aws-iso", "cn-northwest-1": "aws-cn", "us-gov-east-1": "aws-us-gov"} {
		if got := PartitionOfRegion(region); got != want {
			t.Errorf("PartitionOfRegion(%s) = %s, want %s", region, got, want)
		}
	}
}
