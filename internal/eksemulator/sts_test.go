package eksemulator

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"
)

func TestGetCallerIdentityWithOwnCredentials(t *testing.T) {
	s := startServer(t, Config{DefaultAccount: otherAccount})
	out, err := stsClient(s, defaultCreds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, err, "GetCallerIdentity")
	if aws.ToString(out.Account) != otherAccount || aws.ToString(out.Arn) != "arn:aws:iam::444455556666:root" {
		t.Fatalf("identity = %s %s", aws.ToString(out.Account), aws.ToString(out.Arn))
	}
}

func TestAssumeRoleActsInTheRolesAccount(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}, {Name: testCluster, Account: otherAccount}}})
	role := roleARN(otherAccount, "operator")
	out, err := stsClient(s, defaultCreds).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("op-session"), DurationSeconds: aws.Int32(900),
	})
	mustOK(t, err, "AssumeRole")
	cr := out.Credentials
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(aws.ToString(cr.AccessKeyId)) || aws.ToString(cr.SecretAccessKey) == "" ||
		aws.ToString(cr.SessionToken) == "" || cr.Expiration == nil || cr.Expiration.Sub(time.Now()) > 16*time.Minute {
		t.Fatalf("credentials = %+v", cr)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::444455556666:assumed-role/operator/op-session" {
		t.Fatalf("assumed role ARN = %s", aws.ToString(out.AssumedRoleUser.Arn))
	}
	roleID := s.PrincipalID(role)
	if aws.ToString(out.AssumedRoleUser.AssumedRoleId) != roleID+":op-session" {
		t.Fatalf("assumed role ID = %s, role ID %s", aws.ToString(out.AssumedRoleUser.AssumedRoleId), roleID)
	}

	creds := aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
	who, err := stsClient(s, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, err, "GetCallerIdentity as the role")
	if aws.ToString(who.Account) != otherAccount || aws.ToString(who.Arn) != aws.ToString(out.AssumedRoleUser.Arn) ||
		aws.ToString(who.UserId) != roleID+":op-session" {
		t.Fatalf("identity = %s %s %s", aws.ToString(who.Account), aws.ToString(who.Arn), aws.ToString(who.UserId))
	}

	// The same cluster name in two accounts: the credentials pick the account.
	createEntry(t, eksClientIn(s, testRegion, creds), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if n := len(s.Entries(otherAccount, testRegion, testCluster)); n != 1 {
		t.Fatalf("%d entries in the role's account, want 1", n)
	}
	if n := len(s.Entries(testAccount, testRegion, testCluster)); n != 0 {
		t.Fatalf("%d entries in the default account, want 0", n)
	}
	// Node roles must be in the cluster's account: the role's account now.
	createEntry(t, eksClientIn(s, testRegion, creds), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(otherAccount, "ng")), Type: aws.String("EC2_LINUX")})
}

func TestAssumeRoleRefusals(t *testing.T) {
	s := startServer(t, Config{Principals: []string{myRole}})
	c := stsClient(s, defaultCreds)
	tests := []struct {
		name, role, session, code string
	}{
		{"unknown role in strict mode", roleARN(testAccount, "ghost"), "s1", "AccessDenied"},
		{"user instead of role", "arn:aws:iam::111122223333:user/alice", "s1", "ValidationError"},
		{"session name too short", myRole, "x", "ValidationError"},
		{"session name with a space", myRole, "my session", "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(tt.role), RoleSessionName: aws.String(tt.session)})
			wantCode(t, err, tt.code)
		})
	}
	_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(myRole), RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(60)})
	wantCode(t, err, "ValidationError")
	_, err = c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(myRole), RoleSessionName: aws.String("ok")})
	mustOK(t, err, "AssumeRole of a known role")
	if got := s.Calls()["AssumeRole"]; got["OK"] != 1 || got["ValidationError"] != 4 || got["AccessDenied"] != 1 {
		t.Fatalf("AssumeRole outcomes = %v", got)
	}
}

// TestAssumeRoleHoldsTheTrustPolicy: a role with a trust policy refuses callers of
// other accounts and a missing or wrong external ID, with STS's AccessDenied.
func TestAssumeRoleHoldsTheTrustPolicy(t *testing.T) {
	role := roleARN(otherAccount, "operator")
	s := startServer(t, Config{DefaultAccount: testAccount, Roles: []RoleTrust{{RoleARN: role, TrustedAccounts: []string{testAccount}, ExternalID: "platform-team"}}})
	assume := func(externalID *string) error {
		_, err := stsClient(s, defaultCreds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("op"), ExternalId: externalID})
		return err
	}
	mustOK(t, assume(aws.String("platform-team")), "AssumeRole with the external ID")
	for name, id := range map[string]*string{"no external ID": nil, "a wrong external ID": aws.String("guess")} {
		err := assume(id)
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" ||
			!strings.Contains(apiErr.ErrorMessage(), "is not authorized to perform: sts:AssumeRole on resource: "+role) {
			t.Errorf("%s: %v, want AccessDenied", name, err)
		}
	}
	other := startServer(t, Config{DefaultAccount: "999988887777", Roles: []RoleTrust{{RoleARN: role, TrustedAccounts: []string{testAccount}}}})
	if _, err := stsClient(other, defaultCreds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("op")}); err == nil {
		t.Error("a caller of an untrusted account assumed the role")
	}
}

// TestAssumeRoleAccessDeniedThroughTheSDK: a refused AssumeRole is STS's 403
// AccessDenied in the awsQuery XML error shape, which the SDK's STS client
// parses into code and message; the message names the caller, which for
// chained role sessions is the assumed-role ARN.
func TestAssumeRoleAccessDeniedThroughTheSDK(t *testing.T) {
	hub, target := roleARN(testAccount, "hub"), "arn:aws:iam::444455556666:role/team/target"
	s := startServer(t, Config{Roles: []RoleTrust{{RoleARN: target, TrustedAccounts: []string{testAccount}, ExternalID: "right"}}})
	hubOut, err := stsClient(s, defaultCreds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(hub), RoleSessionName: aws.String("op")})
	mustOK(t, err, "AssumeRole hub")
	cr := hubOut.Credentials
	hubCreds := aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}

	// GetCallerIdentity answers for the session.
	who, err := stsClient(s, hubCreds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	mustOK(t, err, "GetCallerIdentity as hub")
	if aws.ToString(who.Arn) != "arn:aws:sts::111122223333:assumed-role/hub/op" || aws.ToString(who.Account) != testAccount {
		t.Fatalf("caller = %s in %s", aws.ToString(who.Arn), aws.ToString(who.Account))
	}

	tests := []struct {
		name       string
		creds      aws.Credentials
		externalID *string
		caller     string
	}{
		{"own credentials, wrong external ID", defaultCreds, aws.String("wrong"), "arn:aws:iam::111122223333:root"},
		{"own credentials, no external ID", defaultCreds, nil, "arn:aws:iam::111122223333:root"},
		{"chained from a role session", hubCreds, aws.String("wrong"), "arn:aws:sts::111122223333:assumed-role/hub/op"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsClient(s, tt.creds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(target), RoleSessionName: aws.String("x1"), ExternalId: tt.externalID})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not a smithy.APIError", err)
			}
			want := "User: " + tt.caller + " is not authorized to perform: sts:AssumeRole on resource: " + target
			if apiErr.ErrorCode() != "AccessDenied" || apiErr.ErrorMessage() != want {
				t.Fatalf("code %q message %q; want AccessDenied %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), want)
			}
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != http.StatusForbidden {
				t.Fatalf("HTTP status of %v is not 403", err)
			}
		})
	}
	_, err = stsClient(s, hubCreds).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(target), RoleSessionName: aws.String("x1"), ExternalId: aws.String("right")})
	mustOK(t, err, "chained AssumeRole with the right external ID")
}

// TestSTSErrorBodyShape pins the XML the SDK parses: ErrorResponse/Error with
// Type, Code and Message, and RequestId beside Error.
func TestSTSErrorBodyShape(t *testing.T) {
	s := startServer(t, Config{Principals: []string{}})
	resp, err := http.PostForm(s.URL()+"/", url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {myRole}, "RoleSessionName": {"s1"}})
	mustOK(t, err, "POST")
	defer resp.Body.Close()
	var body struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error   struct{ Type, Code, Message string }
		ReqID   string `xml:"RequestId"`
	}
	mustOK(t, xml.NewDecoder(resp.Body).Decode(&body), "decode")
	if resp.StatusCode != http.StatusForbidden || body.Error.Type != "Sender" || body.Error.Code != "AccessDenied" || body.ReqID == "" ||
		body.Error.Message != "User: arn:aws:iam::111122223333:root is not authorized to perform: sts:AssumeRole on resource: "+myRole {
		t.Fatalf("status %d body %+v", resp.StatusCode, body)
	}
}
