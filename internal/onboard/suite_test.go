package onboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// The suite runs against a real kube-apiserver (envtest) with the project's CRDs,
// which judges every manifest the package prints, and the EKS emulator over HTTP,
// which the imports read through the real SDK client.
const (
	account = "111122223333"
	region  = "us-west-2"
)

var (
	env     *envtest.Environment
	restCfg *rest.Config
	k8s     client.Client
	emu     *eksemulator.Server
)

func TestMain(m *testing.M) {
	if testenv.Fuzzing() || testenv.UnitOnly() {
		os.Exit(m.Run())
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	var err error
	env, restCfg, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(restCfg, client.Options{Scheme: newScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, ns := range []string{"platform", "imported"} {
		if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	emu, err = eksemulator.New(eksemulator.Config{
		Clusters: []eksemulator.ClusterConfig{
			{Name: "demo", Account: account, Region: region, AuthenticationMode: eksemulator.ModeAPIAndConfigMap},
			{Name: "edge", Account: account, Region: region, AuthenticationMode: eksemulator.ModeAPI},
			{Name: "legacy", Account: account, Region: region, AuthenticationMode: eksemulator.ModeConfigMap},
		},
		// The role demoEntries' developers entry is for.
		PermissionSets: []eksemulator.PermissionSetConfig{{Name: "Developers", Account: account, Suffix: "0123456789abcdef"}},
		Seed:           1,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := emu.Start("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = emu.Close() }()
	return m.Run()
}

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1.AddToScheme(scheme)
	return scheme
}

func awsConfig() aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTESTING", "secret", "")}
}

// emuClient is an SDK client of the emulator.
func emuClient() *eks.Client {
	return eks.NewFromConfig(awsConfig(), func(o *eks.Options) { o.BaseEndpoint = aws.String(emu.URL()) })
}

// parseDocuments reads a multi-document YAML stream of AccessEntries, strictly:
// a field the API type does not have is an error.
func parseDocuments(t *testing.T, data []byte) []*v1.AccessEntry {
	t.Helper()
	var out []*v1.AccessEntry
	for _, doc := range splitDocuments(string(data)) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		ae := &v1.AccessEntry{}
		if err := yaml.UnmarshalStrict([]byte(doc), ae); err != nil {
			t.Fatalf("document does not parse as an AccessEntry: %v\n%s", err, doc)
		}
		out = append(out, ae)
	}
	return out
}

// dryRunApply sends each object to the API server as a dry-run create, so that the
// CRD's schema and CEL rules judge it without storing it.
func dryRunApply(t *testing.T, objs []*v1.AccessEntry) {
	t.Helper()
	var errs []error
	for _, ae := range objs {
		if err := k8s.Create(context.Background(), ae.DeepCopy(), client.DryRunAll); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", ae.Namespace, ae.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("the API server refuses generated manifests:\n%v", err)
	}
}

// yamlOf prints objects as the command does.
func yamlOf(t *testing.T, objs []Object) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteYAML(&b, objs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// eventually polls cond until it holds or the timeout passes.
var eventually = testenv.Eventually
