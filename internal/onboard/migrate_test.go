package onboard

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// update rewrites the golden files from the current output: go test ./internal/onboard -run TestMigrateGolden -update
// Review the diff before committing it.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current output")

// migrateCases are the aws-auth fixtures in testdata and the options they run with.
// Each writes testdata/golden/NAME.yaml (the manifests) and NAME.report.txt.
var migrateCases = []struct {
	name, file string
	opts       MigrateOptions
}{
	{"nodes", "nodes.yaml", MigrateOptions{Cluster: "demo", Region: region, Namespace: "platform"}},
	{"people", "people.yaml", MigrateOptions{Cluster: "demo", Region: region, Namespace: "platform"}},
	{"people-keep-arns-sso-region-adopt", "people.yaml", MigrateOptions{Cluster: "demo", Region: region, Namespace: "platform", SSORegion: "eu-west-1", Adopt: true, KeepARNs: true}},
	{"eksctl-json", "eksctl.json", MigrateOptions{Cluster: "prod", Namespace: "default"}},
	{"broken", "broken.yaml", MigrateOptions{Cluster: "demo", Region: "eu-central-1", Namespace: "default"}},
}

func TestMigrateGolden(t *testing.T) {
	testenv.RequireControlPlane(t)
	for _, tc := range migrateCases {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := ReadAWSAuthFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Migrate(auth, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			manifests := yamlOf(t, res.Objects)
			var report bytes.Buffer
			if err := res.Report.Write(&report); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", manifests)
			golden(t, tc.name+".report.txt", report.Bytes())

			// What is printed is what was built, and the API server accepts all of it.
			parsed := parseDocuments(t, manifests)
			if len(parsed) != len(res.Objects) {
				t.Fatalf("%d documents printed for %d objects", len(parsed), len(res.Objects))
			}
			for i, o := range res.Objects {
				if want := o.AccessEntry(); !equality.Semantic.DeepEqual(parsed[i], want) {
					t.Fatalf("document %d reads back as\n%+v\nwant\n%+v", i, parsed[i], want)
				}
			}
			dryRunApply(t, parsed)
		})
	}
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output (run with -update to accept the output, then review the diff):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestMigrateReadsTheClusterConfigMap(t *testing.T) {
	testenv.RequireControlPlane(t)
	data, err := os.ReadFile(filepath.Join("testdata", "people.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := ParseAWSAuth(data, "file")
	if err != nil {
		t.Fatal(err)
	}
	cm := configMap(t, data)
	if err := k8s.Create(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cm) })

	kubeconfig, err := testenv.WriteKubeconfig(env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fromCluster, err := ReadAWSAuthFromCluster(context.Background(), kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(fromCluster.Data, fromFile.Data) {
		t.Fatalf("the ConfigMap read from the cluster differs from the file:\n%v\n%v", fromCluster.Data, fromFile.Data)
	}
	if !strings.HasPrefix(fromCluster.Origin, "kube-system/aws-auth in context ") {
		t.Fatalf("origin %q", fromCluster.Origin)
	}
	if _, err := ReadAWSAuthFromCluster(context.Background(), kubeconfig, "no-such-context"); err == nil {
		t.Fatal("an unknown context is no error")
	}
}

func TestMigrateWithoutConfigMapInCluster(t *testing.T) {
	testenv.RequireControlPlane(t)
	path, err := testenv.WriteKubeconfig(env, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ReadAWSAuthFromCluster(context.Background(), path, "")
	if err == nil || !strings.Contains(err.Error(), "has no ConfigMap kube-system/aws-auth") {
		t.Fatalf("error %v, want one that says there is no aws-auth", err)
	}
}

func TestParseAWSAuth(t *testing.T) {
	stream := `apiVersion: v1
kind: ConfigMap
metadata:
  name: coredns
  namespace: kube-system
data:
  Corefile: ".:53 {}"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::111122223333:role/x
      username: x
`
	auth, err := ParseAWSAuth([]byte(stream), "stream")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(auth.Data["mapRoles"], "role/x") || len(auth.Data) != 1 {
		t.Fatalf("data %v", auth.Data)
	}
	if _, err := ParseAWSAuth([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: coredns\n"), "other"); err == nil {
		t.Fatal("a stream without aws-auth is no error")
	}
}

func TestMigrateRefusesBadOptions(t *testing.T) {
	auth := AWSAuth{Data: map[string]string{}, Origin: "empty"}
	for _, opts := range []MigrateOptions{
		{Cluster: "", Namespace: "default"},
		{Cluster: "demo", Namespace: "Not_A_Namespace"},
		{Cluster: "demo", Namespace: "default", Region: "west"},
		{Cluster: "demo", Namespace: "default", SSORegion: "nowhere"},
	} {
		if _, err := Migrate(auth, opts); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
}

// configMap is the ConfigMap of an aws-auth fixture, without server-set metadata.
func configMap(t *testing.T, data []byte) *corev1.ConfigMap {
	t.Helper()
	auth, err := ParseAWSAuth(data, "fixture")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	cm.Name, cm.Namespace, cm.Data = "aws-auth", "kube-system", auth.Data
	return cm
}
