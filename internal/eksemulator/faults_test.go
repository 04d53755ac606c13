package eksemulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func describeDemo(c *eks.Client) error {
	_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	return err
}

func wantHTTPStatus(t *testing.T, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("want HTTP %d, got %v", status, err)
	}
}

func TestThrottlingPerAccount(t *testing.T) {
	s := startServer(t, Config{
		Clusters:  []ClusterConfig{{Name: testCluster}, {Name: testCluster, Account: otherAccount}},
		RateLimit: 1, Burst: 3,
	})
	c := eksClient(s)
	for range 3 {
		mustOK(t, describeDemo(c), "call within the burst")
	}
	err := describeDemo(c)
	wantCode(t, err, "ThrottlingException")
	wantHTTPStatus(t, err, http.StatusTooManyRequests)
	wantErr[*types.ThrottlingException](t, err, "Rate exceeded")

	// Another account has its own bucket.
	creds := assumeRole(t, s, roleARN(otherAccount, "operator"), "op")
	mustOK(t, describeDemo(eksClientIn(s, testRegion, creds)), "other account is not throttled")

	time.Sleep(1100 * time.Millisecond) // refills one token at 1/s
	mustOK(t, describeDemo(c), "call after the bucket refilled")

	calls := s.Calls()["DescribeCluster"]
	if calls["OK"] != 5 || calls["ThrottlingException"] != 1 {
		t.Fatalf("DescribeCluster outcomes = %v, want OK 5 and ThrottlingException 1", calls)
	}
}

// TestThrottlingStormOfOneAccount: an account named in Faults.Throttled gets
// nothing but 429s; another is served, and CallsOf counts each account's own.
func TestThrottlingStormOfOneAccount(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}, {Name: testCluster, Account: otherAccount}}})
	other := eksClientIn(s, testRegion, assumeRole(t, s, roleARN(otherAccount, "operator"), "op"))
	s.SetFaults(Faults{Throttled: []string{otherAccount}})
	c := eksClient(s)
	for range 3 {
		mustOK(t, describeDemo(c), "the account not in the storm")
	}
	err := describeDemo(other)
	wantCode(t, err, "ThrottlingException")
	wantHTTPStatus(t, err, http.StatusTooManyRequests)
	if got := s.CallsOf(testAccount)["DescribeCluster"]; got != 3 {
		t.Errorf("CallsOf(%s) counts %d DescribeCluster, want 3", testAccount, got)
	}
	if got := s.CallsOf(otherAccount)["DescribeCluster"]; got != 0 {
		t.Errorf("CallsOf(%s) counts %d answered DescribeCluster, want 0 in the storm", otherAccount, got)
	}
	s.SetFaults(Faults{})
	mustOK(t, describeDemo(other), "after the storm")
	if got := s.CallsOf(otherAccount)["DescribeCluster"]; got != 1 {
		t.Errorf("CallsOf(%s) counts %d DescribeCluster after the storm, want 1", otherAccount, got)
	}
}

func TestSetFaultsAtRuntime(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	mustOK(t, describeDemo(c), "unlimited")
	mustOK(t, describeDemo(c), "unlimited")
	s.SetFaults(Faults{RateLimit: 0.1, Burst: 1})
	mustOK(t, describeDemo(c), "first call of the new bucket")
	wantCode(t, describeDemo(c), "ThrottlingException")
	if f := s.Faults(); f.RateLimit != 0.1 || f.Burst != 1 {
		t.Fatalf("Faults() = %+v", f)
	}
	s.SetFaults(Faults{FaultRate: 7}) // clamped to 1
	err := describeDemo(c)
	wantErr[*types.ServerException](t, err, "fault injected")
	wantHTTPStatus(t, err, http.StatusInternalServerError)
	s.SetFaults(Faults{})
	mustOK(t, describeDemo(c), "faults switched off")
}

// faultPattern runs n calls and records which ones got an injected fault.
func faultPattern(t *testing.T, seed int64, rate float64, n int) []bool {
	t.Helper()
	s := startServer(t, Config{FaultRate: rate, Seed: seed})
	c := eksClient(s)
	var out []bool
	for range n {
		err := describeDemo(c)
		var se *types.ServerException
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("unexpected error %v", err)
		}
		out = append(out, err != nil)
	}
	calls := s.Calls()["DescribeCluster"]
	if calls["OK"]+calls["ServerException"] != n {
		t.Fatalf("call counts %v do not add up to %d", calls, n)
	}
	return out
}

func TestFaultsAreSeeded(t *testing.T) {
	a, b := faultPattern(t, 7, 0.3, 40), faultPattern(t, 7, 0.3, 40)
	faults := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, call %d differs: %v vs %v", i, a, b)
		}
		if a[i] {
			faults++
		}
	}
	if faults < 4 || faults > 24 {
		t.Fatalf("%d of 40 calls faulted at rate 0.3", faults)
	}
	for _, f := range faultPattern(t, 7, 1, 5) {
		if !f {
			t.Fatal("rate 1 let a call through")
		}
	}
}

func TestSDKRetriesAbsorbFaults(t *testing.T) {
	s := startServer(t, Config{FaultRate: 0.5, Seed: 1})
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 20
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None // no client-side retry quota
		})
	}
	c := eks.NewFromConfig(awsConfig(s, testRegion, defaultCreds, retryer))
	for range 10 {
		mustOK(t, describeDemo(c), "call with retries")
	}
	calls := s.Calls()["DescribeCluster"]
	if calls["OK"] != 10 || calls["ServerException"] == 0 {
		t.Fatalf("outcomes = %v; want 10 OK after some ServerExceptions", calls)
	}
}

func TestLatency(t *testing.T) {
	s := startServer(t, Config{Latency: 150 * time.Millisecond, MaxJitter: 50 * time.Millisecond})
	c := eksClient(s)
	start := time.Now()
	mustOK(t, describeDemo(c), "slow call")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %s, want at least 150ms", d)
	}
}

func TestDebugEndpoints(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: map[string]string{"team": "a"}})
	_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	wantCode(t, err, "ResourceInUseException")
	_, err = c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
		PolicyArn:   aws.String(AccessPolicyARN("AmazonEKSEditPolicy")),
		AccessScope: &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"dev"}},
	})
	mustOK(t, err, "associate")

	var calls map[string]map[string]int
	getJSON(t, s.URL()+"/_emulator/calls", &calls)
	if calls["CreateAccessEntry"]["OK"] != 1 || calls["CreateAccessEntry"]["ResourceInUseException"] != 1 || calls["AssociateAccessPolicy"]["OK"] != 1 {
		t.Fatalf("/_emulator/calls = %v", calls)
	}

	var st State
	getJSON(t, s.URL()+"/_emulator/state", &st)
	if len(st.Clusters) != 1 || len(st.Clusters[0].Entries) != 1 {
		t.Fatalf("state = %+v", st)
	}
	got := st.Clusters[0].Entries[0]
	if got.AccessEntryARN != aws.ToString(e.AccessEntryArn) || got.Tags["team"] != "a" || len(got.Policies) != 1 ||
		got.Policies[0].ScopeType != "namespace" || got.Policies[0].Namespaces[0] != "dev" || !st.Permissive {
		t.Fatalf("state entry = %+v", got)
	}

	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/_emulator/calls", nil)
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, err, "DELETE /_emulator/calls")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(s.Calls()) != 0 {
		t.Fatalf("reset: status %d, calls %v", resp.StatusCode, s.Calls())
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	mustOK(t, err, "GET "+url)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	mustOK(t, json.NewDecoder(resp.Body).Decode(v), "decode "+url)
}

// assumeRole returns credentials for a role through the emulator's STS.
func assumeRole(t *testing.T, s *Server, role, session string) aws.Credentials {
	t.Helper()
	out, err := stsClient(s, defaultCreds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)})
	mustOK(t, err, "AssumeRole "+role)
	return aws.Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
	}
}
