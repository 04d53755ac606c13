package eksemulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"
)

const (
	testAccount  = "111122223333"
	otherAccount = "444455556666"
	testRegion   = "us-west-2"
	testCluster  = "demo"
	myRole       = "arn:aws:iam::111122223333:role/my-role"
)

// startServer starts an emulator on a free loopback port for the test.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// awsConfig points an SDK configuration at the emulator with static
// credentials and, unless a retryer is given, no retries: tests must see each
// error the server returns.
func awsConfig(s *Server, region string, creds aws.Credentials, retryer func() aws.Retryer) aws.Config {
	if retryer == nil {
		retryer = func() aws.Retryer { return aws.NopRetryer{} }
	}
	return aws.Config{
		Region: region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
		BaseEndpoint: aws.String(s.URL()),
		Retryer:      retryer,
	}
}

var defaultCreds = aws.Credentials{AccessKeyID: "AKIAEMULATORTEST0001", SecretAccessKey: "not-a-secret"}

func eksClient(s *Server) *eks.Client {
	return eks.NewFromConfig(awsConfig(s, testRegion, defaultCreds, nil))
}

func eksClientIn(s *Server, region string, creds aws.Credentials) *eks.Client {
	return eks.NewFromConfig(awsConfig(s, region, creds, nil))
}

func stsClient(s *Server, creds aws.Credentials) *sts.Client {
	return sts.NewFromConfig(awsConfig(s, testRegion, creds, nil))
}

// wantErr asserts err is (or wraps) an error of type T whose message
// contains want.
func wantErr[T error](t *testing.T, err error, want string) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("want error of type %T, got %v", target, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err.Error(), want)
	}
	return target
}

// wantCode asserts err is an API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want API error %s, got %s (%v)", code, ae.ErrorCode(), err)
	}
}

func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func createEntry(t *testing.T, c *eks.Client, in *eks.CreateAccessEntryInput) *types.AccessEntry {
	t.Helper()
	if in.ClusterName == nil {
		in.ClusterName = aws.String(testCluster)
	}
	out, err := c.CreateAccessEntry(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateAccessEntry(%s): %v", aws.ToString(in.PrincipalArn), err)
	}
	return out.AccessEntry
}

func roleARN(account, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", account, name)
}

var ctx = context.Background()
