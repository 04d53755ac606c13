package awsapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
)

// The tests of this package run the real SDK over HTTP against the EKS
// emulator in process (its EKS, STS and IAM), with no control plane.
const (
	account    = "111122223333"
	region     = "us-west-2"
	viewPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
)

// awsConfig is the base config of the tests' clients: static credentials the
// emulator takes as the caller of its default account.
func awsConfig() aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTESTING", "secret", ""),
	}
}

func roleARN(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// newEmulator is an emulator with one cluster, demo, in account/region, in the
// given authentication mode; IAM is permissive (any well-formed principal can
// have an entry) but only reads principals the test added.
func newEmulator(t *testing.T, mode string) *eksemulator.Server {
	t.Helper()
	emu, err := eksemulator.New(eksemulator.Config{Clusters: []eksemulator.ClusterConfig{{Name: "demo", Account: account, Region: region, AuthenticationMode: mode}}})
	if err != nil {
		t.Fatal(err)
	}
	return emu
}

// serve serves h over HTTP until the test ends and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClients are unmetered clients whose EKS, STS and IAM calls all go to url.
func newClients(t *testing.T, url string) *Clients {
	t.Helper()
	opts := DefaultOptions()
	opts.Endpoint, opts.STSEndpoint, opts.IAMEndpoint = url, url, url
	c, err := NewClients(awsConfig(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
