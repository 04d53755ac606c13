package eksemulator

import (
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
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
