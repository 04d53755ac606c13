package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// isolateAWS keeps the developer's AWS configuration out of the test: static
// credentials from the environment, no profile, no instance metadata.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_EKS", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	code, top, _ := runCLI(t, "--help")
	if code != exitOK {
		t.Fatalf("--help exits %d", code)
	}
	for _, c := range commands(nil, nil) {
		if !strings.Contains(top, c.name) || !strings.Contains(top, c.summary) {
			t.Errorf("--help does not list the command %s", c.name)
		}
		code, own, _ := runCLI(t, c.name, "--help")
		if code != exitOK {
			t.Fatalf("%s --help exits %d", c.name, code)
		}
		if _, short, _ := runCLI(t, c.name, "-h"); short != own {
			t.Errorf("%s -h differs from %s --help", c.name, c.name)
		}
		if _, viaHelp, _ := runCLI(t, "help", c.name); viaHelp != own {
			t.Errorf("help %s differs from %s --help", c.name, c.name)
		}
		c.flags.VisitAll(func(f *flag.Flag) {
			if long, isAlias := c.short[f.Name]; isAlias {
				want := "-" + f.Name + ", --" + long
				if !strings.Contains(own, want) || !strings.Contains(top, want) {
					t.Errorf("help of %s does not show the alias %q", c.name, want)
				}
				return
			}
			_, usage := flag.UnquoteUsage(f)
			if strings.TrimSpace(usage) == "" {
				t.Errorf("--%s of %s has no description", f.Name, c.name)
			}
			for _, help := range []string{own, top} {
				if !strings.Contains(help, "--"+f.Name) || !strings.Contains(help, usage) {
					t.Errorf("help of %s does not document --%s", c.name, f.Name)
				}
			}
			if !strings.Contains(c.usage, "--"+f.Name) {
				t.Errorf("the synopsis of %s does not name --%s", c.name, f.Name)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	file := filepath.Join("..", "..", "internal", "onboard", "testdata", "people.yaml")
	for _, args := range [][]string{
		{},
		{"export"},
		{"import"},
		{"import", "--cluster", "demo", "extra"},
		{"import", "--cluster", "demo", "--no-such-flag"},
		{"migrate-aws-auth", "--file", file},
		{"migrate-aws-auth", "--cluster", "demo", "--file", file, "--context", "prod"},
	} {
		if code, _, stderr := runCLI(t, args...); code != exitUsage {
			t.Errorf("%q exits %d (stderr %q), want %d", args, code, stderr, exitUsage)
		}
	}
}

func TestImportCommand(t *testing.T) {
	isolateAWS(t)
	emu, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: "demo"}}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	admin := eks.NewFromConfig(aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKIDTESTING", "secret", "")},
		func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
	for _, in := range []*eks.CreateAccessEntryInput{
		{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::111122223333:role/viewers"), KubernetesGroups: []string{"viewers"}},
		{ClusterName: aws.String("demo"), PrincipalArn: aws.String("arn:aws:iam::111122223333:role/nodes"), Type: aws.String("EC2_LINUX")},
	} {
		if _, err := admin.CreateAccessEntry(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}

	// The region comes from the environment when --region is not given.
	t.Setenv("AWS_REGION", "us-west-2")
	code, stdout, stderr := runCLI(t, "import", "--cluster", "demo", "--endpoint-url", emu.URL(), "-n", "team-a")
	if code != exitOK {
		t.Fatalf("import exits %d: %s", code, stderr)
	}
	var ae v1.AccessEntry
	if err := yaml.UnmarshalStrict([]byte(stdout), &ae); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if ae.Name != "demo-viewers" || ae.Namespace != "team-a" || ae.Spec.Region != "us-west-2" || ae.Annotations[v1.AdoptAnnotation] != "true" {
		t.Fatalf("imported:\n%s", stdout)
	}
	if !strings.HasPrefix(stderr, "kubectl eksaccess import: cluster demo (us-west-2): 1 of 2 access entries imported, 1 left out\n") ||
		!strings.Contains(stderr, "--include-node-types") {
		t.Fatalf("stderr:\n%s", stderr)
	}

	code, stdout, _ = runCLI(t, "import", "--cluster", "demo", "--region", "us-west-2", "--endpoint-url", emu.URL(), "--include-node-types")
	if code != exitOK || strings.Count(stdout, "kind: AccessEntry") != 2 || !strings.Contains(stdout, "type: EC2_LINUX") {
		t.Fatalf("import --include-node-types exits %d:\n%s", code, stdout)
	}

	t.Setenv("AWS_REGION", "")
	if code, _, stderr := runCLI(t, "import", "--cluster", "demo", "--endpoint-url", emu.URL()); code != exitError || !strings.Contains(stderr, "no AWS region") {
		t.Fatalf("import without a region exits %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "import", "--cluster", "nope", "--region", "us-west-2", "--endpoint-url", emu.URL()); code != exitError || !strings.Contains(stderr, "EKS has no cluster nope") {
		t.Fatalf("import of a missing cluster exits %d: %s", code, stderr)
	}
	for op := range emu.Calls() {
		if op != "CreateAccessEntry" && op != "ListAccessEntries" && op != "DescribeAccessEntry" && op != "ListAssociatedAccessPolicies" {
			t.Fatalf("the command called %s", op)
		}
	}
}

func TestMigrateCommand(t *testing.T) {
	isolateAWS(t)
	testdata := filepath.Join("..", "..", "internal", "onboard", "testdata")
	file := filepath.Join(testdata, "people.yaml")
	report := filepath.Join(t.TempDir(), "report.txt")
	code, stdout, stderr := runCLI(t, "migrate-aws-auth", "--cluster", "demo", "--region", "us-west-2", "-n", "platform", "--file", file, "--report", report)
	if code != exitOK || stderr != "" {
		t.Fatalf("migrate-aws-auth exits %d, stderr %q", code, stderr)
	}
	// The same output as the package's golden files, which the package tests check.
	wantYAML, err := os.ReadFile(filepath.Join(testdata, "golden", "people.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(wantYAML) {
		t.Fatalf("manifests differ from testdata/golden/people.yaml:\n%s", stdout)
	}
	gotReport, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	wantReport, err := os.ReadFile(filepath.Join(testdata, "golden", "people.report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Replace(string(gotReport), file, "testdata/people.yaml", 1); got != string(wantReport) {
		t.Fatalf("--report file differs from testdata/golden/people.report.txt:\n%s", gotReport)
	}

	// Without --report the report goes to standard error.
	code, _, stderr = runCLI(t, "migrate-aws-auth", "--cluster", "demo", "--file", file)
	if code != exitOK || !strings.Contains(stderr, "spec.region is left out") {
		t.Fatalf("migrate-aws-auth exits %d, stderr:\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "migrate-aws-auth", "--cluster", "demo", "--file", filepath.Join(testdata, "missing.yaml")); code != exitError {
		t.Fatalf("a missing file exits %d: %s", code, stderr)
	}
}
