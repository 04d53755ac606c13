package eksemulator

import (
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

func iamClient(s *Server, creds aws.Credentials) *iam.Client {
	return iam.NewFromConfig(awsConfig(s, testRegion, creds, nil))
}

// GetRole and GetUser answer with the principal's unique ID, by name in the
// caller's account, and follow deletes and re-creates; entries made for an old ID
// are reported stale.
func TestIAMReadsPrincipalIDs(t *testing.T) {
	pathRole := "arn:aws:iam::111122223333:role/team/apps/deployer"
	user := "arn:aws:iam::111122223333:user/alice"
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}}, Principals: []string{myRole, pathRole, user}})
	cl := iamClient(s, defaultCreds)

	role, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("DEPLOYER")})
	mustOK(t, err, "GetRole")
	if aws.ToString(role.Role.Arn) != pathRole || aws.ToString(role.Role.Path) != "/team/apps/" ||
		aws.ToString(role.Role.RoleId) != s.PrincipalID(pathRole) || role.Role.CreateDate == nil {
		t.Fatalf("GetRole = %+v, want %s with ID %s", role.Role, pathRole, s.PrincipalID(pathRole))
	}
	if !regexp.MustCompile(`^AROA[A-Z2-7]{17}$`).MatchString(aws.ToString(role.Role.RoleId)) {
		t.Fatalf("role ID %s is not IAM's form", aws.ToString(role.Role.RoleId))
	}
	u, err := cl.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	mustOK(t, err, "GetUser")
	if aws.ToString(u.User.Arn) != user || aws.ToString(u.User.UserId) != s.PrincipalID(user) ||
		!regexp.MustCompile(`^AIDA`).MatchString(aws.ToString(u.User.UserId)) {
		t.Fatalf("GetUser = %+v", u.User)
	}
	_, err = cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nobody")})
	wantErr[*iamtypes.NoSuchEntityException](t, err, "The role with name nobody cannot be found")
	_, err = cl.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("my-role")}) // a role, not a user
	wantErr[*iamtypes.NoSuchEntityException](t, err, "The user with name my-role cannot be found")

	// Another account's credentials see their own account's principals only.
	s2 := startServer(t, Config{DefaultAccount: otherAccount, Principals: []string{myRole}})
	_, err = iamClient(s2, defaultCreds).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("my-role")})
	wantErr[*iamtypes.NoSuchEntityException](t, err, "cannot be found")

	createEntry(t, eksClient(s), &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	old := s.PrincipalID(myRole)
	s.DeletePrincipal(myRole)
	_, err = cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("my-role")})
	wantErr[*iamtypes.NoSuchEntityException](t, err, "cannot be found")
	if e := s.Entries(testAccount, testRegion, testCluster)[0]; e.PrincipalStale || e.PrincipalID != old {
		t.Fatalf("a deleted principal's entry: %+v", e)
	}
	s.RecreatePrincipal(myRole)
	again, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("my-role")})
	mustOK(t, err, "GetRole after the re-create")
	if id := aws.ToString(again.Role.RoleId); id == old || id != s.PrincipalID(myRole) {
		t.Fatalf("re-created role has ID %s, was %s", id, old)
	}
	if e := s.Entries(testAccount, testRegion, testCluster)[0]; !e.PrincipalStale || e.PrincipalID != old {
		t.Fatalf("the entry made for the old role is not stale: %+v", e)
	}
	if c := s.Calls()["GetRole"]; c["OK"] != 2 || c["NoSuchEntity"] != 2 {
		t.Fatalf("GetRole counted %v, want 2 OK and 2 NoSuchEntity", c)
	}
}
