package eksemulator

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
)

// ListRoles, through the real SDK and its paginator, lists the caller's
// account's roles under a path prefix, in pages smaller than MaxItems when IAM
// makes them so, in both of Identity Center's path forms; a permission set
// provisioned again is a new role (suffix and ID) and the old one is gone.
func TestListRolesAndPermissionSets(t *testing.T) {
	sso := func(set, region, suffix string) string { return SSORoleARN(testAccount, set, region, suffix) }
	mine := []string{
		sso("Developers", "", "0123456789abcdef"), sso("Admins", "", "1111222233334444"), sso("ReadOnly", "", "aaaabbbbccccdddd"),
		sso("Auditors", "us-east-1", "5555666677778888"), sso("Billing", "us-east-1", "9999000011112222"),
	}
	others := []string{"arn:aws:iam::" + testAccount + ":role/deployer", "arn:aws:iam::" + testAccount + ":role/team/apps/builder",
		"arn:aws:iam::" + testAccount + ":user/alice", SSORoleARN(otherAccount, "Developers", "", "ffffeeeeddddcccc")}
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}}, Principals: append(slices.Clone(mine), others...)})
	s.SetListRolesPage(2)
	cl := iamClient(s, defaultCreds)

	list := func(prefix string) []string {
		t.Helper()
		var arns []string
		pages := 0
		for p := iam.NewListRolesPaginator(cl, &iam.ListRolesInput{PathPrefix: aws.String(prefix), MaxItems: aws.Int32(100)}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			mustOK(t, err, "ListRoles")
			if pages++; len(out.Roles) > 2 || (out.IsTruncated != (out.Marker != nil)) {
				t.Fatalf("page %d: %d roles, truncated %v, marker %v", pages, len(out.Roles), out.IsTruncated, out.Marker)
			}
			for _, r := range out.Roles {
				if aws.ToString(r.RoleId) != s.PrincipalID(aws.ToString(r.Arn)) || !strings.HasPrefix(aws.ToString(r.Path), prefix) {
					t.Fatalf("listed %+v under %s", r, prefix)
				}
				arns = append(arns, aws.ToString(r.Arn))
			}
		}
		return arns
	}
	all := list(SSORolePath)
	want := []string{mine[1], mine[3], mine[4], mine[0], mine[2]} // by name: Admins, Auditors, Billing, Developers, ReadOnly
	if !slices.Equal(all, want) {
		t.Fatalf("ListRoles %s = %v, want %v", SSORolePath, all, want)
	}
	if regional := list(SSORolePath + "us-east-1/"); !slices.Equal(regional, []string{mine[3], mine[4]}) {
		t.Fatalf("the regional path lists %v", regional)
	}
	if everything := list("/"); len(everything) != 7 {
		t.Fatalf("every role of the account: %v, want the 5 SSO roles and 2 others", everything)
	}

	// IAM answers a parameter outside its model's constraints with ValidationError.
	_, err := cl.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String("aws-reserved")})
	if g := wantErr[*smithy.GenericAPIError](t, err, "pathPrefix"); g.Code != "ValidationError" {
		t.Fatalf("a path prefix without slashes: %s", g.Code)
	}
	_, err = cl.ListRoles(ctx, &iam.ListRolesInput{MaxItems: aws.Int32(1001)})
	wantErr[*smithy.GenericAPIError](t, err, "maxItems")

	old, oldID := mine[0], s.PrincipalID(mine[0])
	moved, err := s.ReprovisionPermissionSet(testAccount, "Developers")
	mustOK(t, err, "ReprovisionPermissionSet")
	if moved == old || !strings.HasPrefix(moved, "arn:aws:iam::"+testAccount+":role"+SSORolePath+"AWSReservedSSO_Developers_") ||
		s.PrincipalID(moved) == oldID || s.PrincipalID(old) != "" {
		t.Fatalf("re-provisioned %s (%s) as %s (%s)", old, oldID, moved, s.PrincipalID(moved))
	}
	// A new role shows in IAM's lists once it has propagated (the emulator's consistency delay).
	var again []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		again = list(SSORolePath)
		if slices.Contains(again, moved) || time.Now().After(deadline) {
			break
		}
	}
	if slices.Contains(again, old) || !slices.Contains(again, moved) || len(again) != 5 {
		t.Fatalf("after re-provisioning: %v", again)
	}
	if _, err := s.ReprovisionPermissionSet(testAccount, "Nobody"); err == nil {
		t.Fatal("re-provisioned a permission set the account does not hold")
	}
}

// A role deleted in IAM (a set provisioned again) is unknown to EKS from then
// on, in permissive mode too: an entry for it is refused, and the refusal
// does not bring the role back into IAM's lists.
func TestDeletedRoleStaysDeleted(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster}}, PermissionSets: []PermissionSetConfig{{Name: "Developers", Suffix: "0123456789abcdef"}}})
	old := SSORoleARN(testAccount, "Developers", "", "0123456789abcdef")
	if s.PrincipalID(old) == "" {
		t.Fatalf("the configured permission set has no role %s", old)
	}
	moved, err := s.ReprovisionPermissionSet(testAccount, "Developers")
	mustOK(t, err, "ReprovisionPermissionSet")
	_, err = eksClient(s).CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(old)})
	wantErr[*types.InvalidParameterException](t, err, "principal")
	_, err = eksClient(s).CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(moved)})
	mustOK(t, err, "CreateAccessEntry for the new role")
	if s.PrincipalID(old) != "" {
		t.Fatal("the refused create brought the deleted role back")
	}
	s.AddPrincipal(old)
	if s.PrincipalID(old) == "" {
		t.Fatal("a role added again is not known")
	}
}
