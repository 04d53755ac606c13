package onboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// The fuzz targets of the plugin's parsing and naming. Their seeds are the files in
// testdata/fuzz/<target>/, which every `go test` runs; `go test -run '^$' -fuzz
// '^FuzzMigrate$' -fuzztime 20s ./internal/onboard/` explores further.

// fzEmulatorCreate sends a CreateAccessEntry to a fresh EKS emulator, in process,
// and returns the entry EKS made, or EKS's error message.
func fzEmulatorCreate(t *testing.T, principal, username string) (created bool, entryPrincipal, msg string) {
	t.Helper()
	// A cluster of the principal's partition: EKS grants no principal of another.
	partition := "aws"
	if p, ok := awsarn.ParsePrincipal(principal); ok {
		partition = p.Partition
	}
	s, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{
		{Name: eksemulator.DefaultClusterName, Account: eksemulator.DefaultAccountID, Region: awsarn.ExampleRegion(partition)}}})
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]string{"principalArn": principal}
	if username != "" {
		req["username"] = username
	}
	body, _ := json.Marshal(req)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/clusters/"+eksemulator.DefaultClusterName+"/access-entries", bytes.NewReader(body)))
	var out struct {
		AccessEntry struct {
			PrincipalARN string `json:"principalArn"`
		} `json:"accessEntry"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("the emulator answered %d with %q: %v", w.Code, w.Body.String(), err)
	}
	return w.Code == http.StatusOK, out.AccessEntry.PrincipalARN, out.Message
}

// FuzzParsePrincipal holds the three readings of a principal ARN to each other:
// parsePrincipal (names), validateSpec (the CRD's rule) and DefaultUsername (the
// operator's plan), and to EKS (the emulator), which must accept what they accept.
func FuzzParsePrincipal(f *testing.F) {
	f.Fuzz(func(t *testing.T, arn string) {
		p, ok := parsePrincipal(arn)
		var principalErrs []string
		for _, e := range validateSpec(v1.AccessEntrySpec{ClusterName: "demo", PrincipalARN: arn}) {
			if strings.HasPrefix(e, "principalARN") {
				principalErrs = append(principalErrs, e)
			}
		}
		linked := linkedRoleRE.MatchString(arn)
		if wantValid := ok && !linked && utf8.RuneCountInString(arn) <= 2048; wantValid != (len(principalErrs) == 0) {
			t.Fatalf("%q: parsePrincipal ok=%v (service-linked %v), but validateSpec says %q", arn, ok, linked, principalErrs)
		}
		if !ok {
			return
		}
		if again := "arn:" + p.Partition + ":iam::" + p.Account + ":" + p.Kind + "/" + p.Path + p.Name; again != arn || p.ARN != arn {
			t.Fatalf("%q parses into %+v, which reads back as %q", arn, p, again)
		}
		if (p.Path != "" && !strings.HasSuffix(p.Path, "/")) || strings.HasPrefix(p.Path, "/") || strings.Contains(p.Name, "/") ||
			len(p.Name) < 1 || len(p.Name) > 64 || len(p.Account) != 12 || (p.Kind != "role" && p.Kind != "user") {
			t.Fatalf("%q parses into %+v", arn, p)
		}
		want := arn
		if p.Kind == "role" {
			want = "arn:" + p.Partition + ":sts::" + p.Account + ":assumed-role/" + p.Name + "/{{SessionName}}"
		}
		if got := awsarn.DefaultUsername(arn); got != want {
			t.Fatalf("DefaultUsername(%q) = %q; from the parsed ARN, EKS derives %q", arn, got, want)
		}
		if !linked {
			if created, got, msg := fzEmulatorCreate(t, arn, ""); !created || got != arn {
				t.Fatalf("the CRD admits %q but EKS refuses it (%s) or records %q", arn, msg, got)
			}
		}
	})
}

// FuzzUsername holds usernameProblem, which stands in for the CRD's username
// rules, to EKS's (the emulator's), and checks that the aws-auth conversion only
// ever writes a username both accept.
func FuzzUsername(f *testing.F) {
	role, _ := parsePrincipal("arn:aws:iam::111122223333:role/team/dev")
	f.Fuzz(func(t *testing.T, u string) {
		problem := usernameProblem(u)
		// The emulator does not limit the length, and JSON cannot carry invalid UTF-8.
		if utf8.ValidString(u) && utf8.RuneCountInString(u) <= 512 {
			if created, _, msg := fzEmulatorCreate(t, role.ARN, u); created != (problem == "") {
				t.Fatalf("username %q: usernameProblem says %q, EKS created=%v (%s)", u, problem, created, msg)
			}
		}

		it := &Item{}
		out := (&converter{}).username(it, u, role)
		if out != "" && usernameProblem(out) != "" {
			t.Fatalf("aws-auth username %q converts to %q, which the CRD refuses: %s", u, out, usernameProblem(out))
		}
		for _, ph := range placeholderRE.FindAllString(out, -1) {
			if ph != sessionName && ph != phSessionNameRaw {
				t.Fatalf("aws-auth username %q converts to %q, which keeps the placeholder %s", u, out, ph)
			}
		}
		if !strings.Contains(u, "{{") && problem == "" && u != "" && u != awsarn.DefaultUsername(role.ARN) && out != u {
			t.Fatalf("aws-auth username %q, valid and without placeholders, converts to %q", u, out)
		}
		// Dropping the username EKS derives anyway changes nothing; any other drop is reported.
		if out == "" && u != "" && u != awsarn.DefaultUsername(role.ARN) && len(it.Lines) == 0 {
			t.Fatalf("aws-auth username %q was dropped without a line in the report", u)
		}
	})
}

// FuzzNames checks the object names the plugin derives: every name a valid
// DNS-1123 subdomain of at most 253 characters, the cluster's name first, one name
// per principal, and names that depend neither on the order of the input nor on
// principals they do not collide with.
//
// arns holds one principal ARN a line.
func FuzzNames(f *testing.F) {
	f.Fuzz(func(t *testing.T, cluster, arns, home string) {
		for _, s := range []string{cluster, arns, home} {
			n := dnsName(s)
			if err := fzCheckName(n); err != "" {
				t.Fatalf("dnsName(%q) = %q: %s", s, n, err)
			}
			if again := dnsName(n); again != n {
				t.Fatalf("dnsName is not idempotent: %q -> %q -> %q", s, n, again)
			}
		}

		var objs []*Object
		seen := map[string]bool{}
		for _, arn := range strings.Split(arns, "\n") {
			p, ok := parsePrincipal(arn)
			// One object a principal, as Migrate and Import give (IAM names ignore case).
			if !ok || seen[strings.ToLower(arn)] {
				continue
			}
			seen[strings.ToLower(arn)] = true
			objs = append(objs, &Object{Spec: v1.AccessEntrySpec{PrincipalARN: arn}})

			base := baseName(cluster, p, home)
			if err := fzCheckName(base); err != "" {
				t.Fatalf("baseName(%q, %q, %q) = %q: %s", cluster, arn, home, base, err)
			}
			if checkTarget(cluster, "", "default") == nil && !strings.HasPrefix(base, dnsName(cluster)+"-") {
				t.Fatalf("baseName(%q, %q, %q) = %q does not start with the cluster's name", cluster, arn, home, base)
			}
			if p.Account != home && !strings.Contains(base, p.Account) {
				t.Fatalf("baseName(%q, %q, %q) = %q does not name the principal's account", cluster, arn, home, base)
			}
		}
		if len(objs) == 0 {
			return
		}

		names := func(objs []*Object) map[string]string {
			assignNames(objs, cluster, home)
			out := map[string]string{}
			for _, o := range objs {
				out[o.Spec.PrincipalARN] = o.Name
			}
			return out
		}
		got := names(objs)
		byName := map[string]string{}
		for arn, n := range got {
			if err := fzCheckName(n); err != "" {
				t.Fatalf("%s is named %q: %s", arn, n, err)
			}
			if other, dup := byName[n]; dup {
				t.Fatalf("%s and %s are both named %q", other, arn, n)
			}
			if p, _ := parsePrincipal(arn); p.Account != home && !strings.Contains(n, p.Account) {
				t.Fatalf("%s is named %q, which does not name its account", arn, n)
			}
			byName[n] = arn
		}
		reversed := slices.Clone(objs)
		slices.Reverse(reversed)
		for i := range reversed {
			reversed[i] = &Object{Spec: reversed[i].Spec}
		}
		if again := names(reversed); !equality.Semantic.DeepEqual(again, got) {
			t.Fatalf("names depend on the order of the principals:\n%v\n%v", got, again)
		}
		// A principal alone on its base name keeps it, whatever else is listed.
		bases := map[string]int{}
		for _, o := range objs {
			p, _ := parsePrincipal(o.Spec.PrincipalARN)
			bases[baseName(cluster, p, home)]++
		}
		for _, o := range objs {
			p, _ := parsePrincipal(o.Spec.PrincipalARN)
			if b := baseName(cluster, p, home); bases[b] == 1 && got[o.Spec.PrincipalARN] != b {
				t.Fatalf("%s collides with no other principal but is named %q, not %q", o.Spec.PrincipalARN, got[o.Spec.PrincipalARN], b)
			}
		}
	})
}

// fzCheckName says why n is no object name, or "".
func fzCheckName(n string) string {
	if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
		return strings.Join(errs, "; ")
	}
	if len(n) > 253 {
		return "longer than 253 characters"
	}
	return ""
}

// FuzzMigrate converts fuzzed aws-auth mappings and checks what the plugin
// prints: every object passes the CRD's rules (validateSpec, which the suite keeps
// in step with the API server), names are unique and valid, the YAML reads back as
// the same objects, and the conversion is deterministic.
func FuzzMigrate(f *testing.F) {
	f.Fuzz(func(t *testing.T, mapRoles, mapUsers string, adopt bool) {
		auth := AWSAuth{Data: map[string]string{"mapRoles": mapRoles, "mapUsers": mapUsers}, Origin: "fuzz"}
		opts := MigrateOptions{Cluster: "demo", Region: "us-west-2", Namespace: "platform", Adopt: adopt}
		res, err := Migrate(auth, opts)
		if err != nil {
			t.Fatalf("Migrate with valid options: %v", err)
		}
		again, _ := Migrate(auth, opts)
		if !equality.Semantic.DeepEqual(again, res) {
			t.Fatalf("Migrate is not deterministic")
		}

		names := map[string]bool{}
		principals := map[string]bool{}
		for _, o := range res.Objects {
			if errs := validateSpec(o.Spec); len(errs) > 0 {
				t.Fatalf("object %s would not pass the schema: %v\n%+v", o.Name, errs, o.Spec)
			}
			if err := fzCheckName(o.Name); err != "" || names[o.Name] {
				t.Fatalf("object name %q: %s (given twice: %v)", o.Name, err, names[o.Name])
			}
			names[o.Name] = true
			k := strings.ToLower(o.Spec.PrincipalARN)
			if ic := o.Spec.IdentityCenter; ic != nil {
				k = "permission set " + ic.Account + "/" + ic.PermissionSet
			}
			if principals[k] {
				t.Fatalf("two objects for %s", k)
			} else {
				principals[k] = true
			}
			if o.Namespace != opts.Namespace || o.Spec.ClusterName != opts.Cluster || o.Spec.Region != opts.Region {
				t.Fatalf("object %s is for %s/%s in %s", o.Name, o.Spec.ClusterName, o.Spec.Region, o.Namespace)
			}
			if adopt != (o.Annotations[v1.AdoptAnnotation] == "true") {
				t.Fatalf("object %s: adopt %v, annotations %v", o.Name, adopt, o.Annotations)
			}
		}
		converted := 0
		for _, it := range res.Report.Items {
			if it.converted() {
				converted++
			}
		}
		if converted != len(res.Objects) {
			t.Fatalf("the report names %d converted inputs for %d objects", converted, len(res.Objects))
		}

		var out bytes.Buffer
		if err := WriteYAML(&out, res.Objects); err != nil {
			t.Fatal(err)
		}
		var docs []string
		for _, d := range splitDocuments(out.String()) {
			if strings.TrimSpace(d) != "" {
				docs = append(docs, d)
			}
		}
		if len(docs) != len(res.Objects) {
			t.Fatalf("%d objects print as %d documents:\n%s", len(res.Objects), len(docs), out.String())
		}
		for i, d := range docs {
			ae := &v1.AccessEntry{}
			if err := yaml.UnmarshalStrict([]byte(d), ae); err != nil {
				t.Fatalf("document %d does not read back: %v\n%s", i, err, d)
			}
			if want := res.Objects[i].AccessEntry(); !equality.Semantic.DeepEqual(ae, want) {
				t.Fatalf("document %d reads back differently:\n%s\n got  %+v\n want %+v", i, d, fzJSON(ae), fzJSON(want))
			}
		}
	})
}

func fzJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
