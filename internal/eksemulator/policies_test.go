package eksemulator

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestAccessPolicyAssociationLifecycle(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	view := AccessPolicyARN("AmazonEKSViewPolicy")
	associate := func(policy string, scope *types.AccessScope) (*eks.AssociateAccessPolicyOutput, error) {
		return c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), PolicyArn: aws.String(policy), AccessScope: scope,
		})
	}

	first, err := associate(view, &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"dev", "team-*"}})
	mustOK(t, err, "associate at namespace scope")
	got := first.AssociatedAccessPolicy
	if aws.ToString(first.ClusterName) != testCluster || aws.ToString(first.PrincipalArn) != myRole ||
		aws.ToString(got.PolicyArn) != view || got.AccessScope.Type != types.AccessScopeTypeNamespace ||
		!slices.Equal(got.AccessScope.Namespaces, []string{"dev", "team-*"}) || got.AssociatedAt == nil {
		t.Fatalf("associate output = %+v / %+v", first, got)
	}

	time.Sleep(5 * time.Millisecond)
	second, err := associate(view, &types.AccessScope{Type: types.AccessScopeTypeCluster})
	mustOK(t, err, "re-associate at cluster scope")
	if !second.AssociatedAccessPolicy.AssociatedAt.Equal(*got.AssociatedAt) || !second.AssociatedAccessPolicy.ModifiedAt.After(*got.ModifiedAt) {
		t.Errorf("re-association should keep associatedAt and move modifiedAt: %v/%v -> %v/%v",
			got.AssociatedAt, got.ModifiedAt, second.AssociatedAccessPolicy.AssociatedAt, second.AssociatedAccessPolicy.ModifiedAt)
	}
	list, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "list associated")
	if len(list.AssociatedAccessPolicies) != 1 || list.AssociatedAccessPolicies[0].AccessScope.Type != types.AccessScopeTypeCluster ||
		len(list.AssociatedAccessPolicies[0].AccessScope.Namespaces) != 0 {
		t.Fatalf("scope not replaced: %+v", list.AssociatedAccessPolicies)
	}

	refusals := []struct {
		name   string
		policy string
		scope  *types.AccessScope
		want   string
	}{
		{"unknown policy", AccessPolicyARN("AmazonEKSGodModePolicy"), &types.AccessScope{Type: types.AccessScopeTypeCluster}, "not a valid access policy"},
		{"IAM policy", "arn:aws:iam::aws:policy/AdministratorAccess", &types.AccessScope{Type: types.AccessScopeTypeCluster}, "not a valid access policy"},
		{"namespace scope without namespaces", view, &types.AccessScope{Type: types.AccessScopeTypeNamespace}, "At least one namespace"},
		{"cluster scope with namespaces", view, &types.AccessScope{Type: types.AccessScopeTypeCluster, Namespaces: []string{"dev"}}, "cannot be specified when the access scope type is cluster"},
		{"invalid namespace", view, &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"Dev_Team"}}, "namespace \"Dev_Team\" is invalid"},
		{"unknown scope type", view, &types.AccessScope{Type: "region"}, "scope type"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := associate(r.policy, r.scope)
			wantErr[*types.InvalidParameterException](t, err, r.want)
		})
	}

	_, err = c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), PolicyArn: aws.String(view)})
	mustOK(t, err, "disassociate")
	if e := s.Entries(testAccount, testRegion, testCluster); len(e) != 1 || len(e[0].Policies) != 0 {
		t.Fatalf("policies after disassociate: %+v", e)
	}
	_, err = c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), PolicyArn: aws.String(view)})
	wantErr[*types.ResourceNotFoundException](t, err, "is not associated")
	_, err = c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(roleARN(testAccount, "nobody")),
		PolicyArn: aws.String(view), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster},
	})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
}

func TestAccessPoliciesOnlyOnStandardEntries(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	node := roleARN(testAccount, "ng-1")
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(node), Type: aws.String("EC2_LINUX")})
	_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node),
		PolicyArn: aws.String(AccessPolicyARN("AmazonEKSViewPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster},
	})
	wantErr[*types.InvalidParameterException](t, err, `This operation can only be performed on Access Entries with a type of "STANDARD".`)
	_, err = c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node)})
	wantErr[*types.InvalidParameterException](t, err, `This operation can only be performed on Access Entries with a type of "STANDARD".`)
}

func TestListAssociatedAccessPoliciesPagination(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	var want []string
	for _, name := range accessPolicyNames[:12] {
		_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
			PolicyArn: aws.String(AccessPolicyARN(name)), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster},
		})
		mustOK(t, err, "associate "+name)
		want = append(want, AccessPolicyARN(name))
	}
	p := eks.NewListAssociatedAccessPoliciesPaginator(c, &eks.ListAssociatedAccessPoliciesInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), MaxResults: aws.Int32(5),
	})
	var got []string
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		mustOK(t, err, "page")
		pages++
		for _, a := range page.AssociatedAccessPolicies {
			got = append(got, aws.ToString(a.PolicyArn))
		}
	}
	slices.Sort(want)
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages with %v, want 3 pages with %v", pages, got, want)
	}
}

func TestListAccessPolicies(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	p := eks.NewListAccessPoliciesPaginator(c, &eks.ListAccessPoliciesInput{MaxResults: aws.Int32(7)})
	got := map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		mustOK(t, err, "page")
		if len(page.AccessPolicies) > 7 {
			t.Fatalf("page of %d > maxResults 7", len(page.AccessPolicies))
		}
		for _, ap := range page.AccessPolicies {
			got[aws.ToString(ap.Name)] = aws.ToString(ap.Arn)
		}
	}
	for _, name := range []string{
		"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy", "AmazonEKSEditPolicy",
		"AmazonEKSViewPolicy", "AmazonEKSAutoNodePolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSComputePolicy",
		"AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingPolicy", "AmazonEKSHybridPolicy", "AmazonEKSSecretReaderPolicy",
	} {
		if got[name] != "arn:aws:eks::aws:cluster-access-policy/"+name {
			t.Errorf("policy %s: ARN %q", name, got[name])
		}
	}
	if len(got) != len(accessPolicyNames) {
		t.Errorf("listed %d policies, want %d", len(got), len(accessPolicyNames))
	}
}

func TestTagsOnAccessEntries(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: map[string]string{"team": "a"}})
	arn := e.AccessEntryArn
	listTags := func() map[string]string {
		t.Helper()
		out, err := c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn})
		mustOK(t, err, "ListTagsForResource")
		return out.Tags
	}
	if got := listTags(); !maps.Equal(got, map[string]string{"team": "a"}) {
		t.Fatalf("tags after create = %v", got)
	}
	_, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"env": "dev", "team": "b"}})
	mustOK(t, err, "TagResource")
	if got := listTags(); !maps.Equal(got, map[string]string{"team": "b", "env": "dev"}) {
		t.Fatalf("tags after tag = %v", got)
	}
	_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"team", "absent"}})
	mustOK(t, err, "UntagResource")
	if got := listTags(); !maps.Equal(got, map[string]string{"env": "dev"}) {
		t.Fatalf("tags after untag = %v", got)
	}
	desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "describe")
	if !maps.Equal(desc.AccessEntry.Tags, map[string]string{"env": "dev"}) {
		t.Fatalf("describe tags = %v", desc.AccessEntry.Tags)
	}

	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: many})
	wantErr[*types.BadRequestException](t, err, "Too many tags")
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"aws:cloudformation:stack": "x"}})
	wantErr[*types.BadRequestException](t, err, "reserved")
	_, err = c.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"Aws:x"}})
	wantErr[*types.BadRequestException](t, err, "reserved")
	_, err = c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String("arn:aws:iam::111122223333:role/x"), Tags: map[string]string{"a": "b"}})
	wantErr[*types.BadRequestException](t, err, "not a valid EKS")
	gone := "arn:aws:eks:us-west-2:111122223333:access-entry/demo/role/111122223333/gone/0a0b0c0d-0000-4000-8000-000000000000"
	_, err = c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(gone)})
	wantErr[*types.NotFoundException](t, err, "could not be found")

	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "delete")
	_, err = c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn})
	wantErr[*types.NotFoundException](t, err, "could not be found")
}

func TestTagsOnClusters(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	arn := aws.String("arn:aws:eks:us-west-2:111122223333:cluster/demo")
	_, err := c.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"owner": "platform"}})
	mustOK(t, err, "tag cluster")
	out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "describe cluster")
	if out.Cluster.Tags["owner"] != "platform" {
		t.Fatalf("cluster tags = %v", out.Cluster.Tags)
	}
	// Another account's cluster is not reachable with this account's credentials.
	_, err = c.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:eks:us-west-2:444455556666:cluster/demo")})
	wantErr[*types.NotFoundException](t, err, "could not be found")
}
