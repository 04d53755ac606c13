package awsarn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// fzRoleRE and fzUserRE are the CRD's principal rule, for roles and users, with
// the role's name captured.
var (
	fzRoleRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):role/(?:[A-Za-z0-9_+=,.@-]+/)*([A-Za-z0-9_+=,.@-]{1,64})$`)
	fzUserRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):user/(?:[A-Za-z0-9_+=,.@-]+/)*([A-Za-z0-9_+=,.@-]{1,64})$`)
)

// FuzzParsePrincipal holds ParsePrincipal to the CRD's own rule for
// spec.principalARN, read from the generated CRD: whatever the API server admits
// parses, whatever it refuses does not, and the parts read back as the ARN.
func FuzzParsePrincipal(f *testing.F) {
	crd := crdRules(f)
	for _, s := range []string{"arn:aws:iam::111122223333:role/team/dev", "arn:aws-cn:iam::111122223333:user/a", "arn:aws:iam::1:role/x",
		"arn:aws:iam::111122223333:role//x", "arn:aws:sts::111122223333:assumed-role/r/s", "arn:aws:iam::111122223333:role/" + strings.Repeat("n", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePrincipal(s)
		if want := crd.principal.MatchString(s); ok != want {
			t.Fatalf("ParsePrincipal(%q) ok=%v, the CRD's rule says %v", s, ok, want)
		}
		if !ok {
			return
		}
		if again := "arn:" + p.Partition + ":iam::" + p.Account + ":" + p.Kind + "/" + p.Path + p.Name; again != s || p.ARN != s {
			t.Fatalf("%q parses into %+v, which reads back as %q", s, p, again)
		}
		if account, ok := AccountOf(s); !ok || account != p.Account {
			t.Fatalf("AccountOf(%q) = %q, %v; want %s", s, account, ok, p.Account)
		}
	})
}

// FuzzParsePolicy holds ParsePolicy to the CRD's rule for accessPolicies[].policyARN.
func FuzzParsePolicy(f *testing.F) {
	crd := crdRules(f)
	for _, s := range []string{"arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "arn:aws-us-gov:eks::aws:cluster-access-policy/X",
		"arn:aws:eks::aws:cluster-access-policy/", "arn:aws:eks::111122223333:cluster-access-policy/X", "arn:aws:eks::aws:cluster-access-policy/-X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePolicy(s)
		if want := crd.policy.MatchString(s); ok != want {
			t.Fatalf("ParsePolicy(%q) ok=%v, the CRD's rule says %v", s, ok, want)
		}
		if ok && PolicyARN(p.Partition, p.Name) != s {
			t.Fatalf("%q parses into %+v, which reads back as %q", s, p, PolicyARN(p.Partition, p.Name))
		}
	})
}

func FuzzDefaultUsername(f *testing.F) {
	f.Fuzz(func(t *testing.T, arn string) {
		got := DefaultUsername(arn)
		parts := strings.SplitN(arn, ":", 6)
		switch {
		case len(parts) != 6 || parts[0] != "arn":
			if got != "" {
				t.Fatalf("DefaultUsername(%q) = %q for an ARN that is not one", arn, got)
			}
		case strings.HasPrefix(parts[5], "role/"):
			prefix := "arn:" + parts[1] + ":sts::" + parts[4] + ":assumed-role/"
			session, ok := strings.CutPrefix(got, prefix)
			name, ok2 := strings.CutSuffix(session, "/{{SessionName}}")
			if !ok || !ok2 || strings.Contains(name, "/") || !strings.HasSuffix(parts[5], "/"+name) {
				t.Fatalf("DefaultUsername(%q) = %q, want %s<role name without path>/{{SessionName}}", arn, got, prefix)
			}
			if m := fzRoleRE.FindStringSubmatch(arn); m != nil && name != m[3] {
				t.Fatalf("DefaultUsername(%q) = %q, want the role name %s", arn, got, m[3])
			}
		default:
			if got != arn {
				t.Fatalf("DefaultUsername(%q) = %q, want the ARN itself", arn, got)
			}
		}

		// What the plan expects EKS to derive, EKS (the emulator) derives.
		if (fzRoleRE.MatchString(arn) && !strings.Contains(arn, ":role/aws-service-role/")) || fzUserRE.MatchString(arn) {
			if eks := fzEmulatorUsername(t, arn); eks != got {
				t.Fatalf("EKS derives %q for %s, DefaultUsername %q", eks, arn, got)
			}
		}
	})
}

// fzEmulatorUsername creates a STANDARD entry without a username in a fresh
// emulator, in process, and returns the username EKS gave it.
func fzEmulatorUsername(t *testing.T, principal string) string {
	t.Helper()
	p, _ := ParsePrincipal(principal)
	// A cluster of the principal's partition: EKS grants no principal of another.
	s, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{
		{Name: eksemulator.DefaultClusterName, Account: eksemulator.DefaultAccountID, Region: ExampleRegion(p.Partition)}}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"principalArn": principal})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/clusters/"+eksemulator.DefaultClusterName+"/access-entries", strings.NewReader(string(body))))
	var out struct {
		AccessEntry struct {
			Username string `json:"username"`
		} `json:"accessEntry"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
		t.Fatalf("the emulator refused %s: %d %s (%v)", principal, w.Code, out.Message, err)
	}
	return out.AccessEntry.Username
}
