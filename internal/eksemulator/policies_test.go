package eksemulator

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	smithy "github.com/aws/smithy-go"
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

func TestAccessPolicyNamesIsTheSortedCatalogue(t *testing.T) {
	names := AccessPolicyNames()
	if !slices.IsSorted(names) || len(names) != len(accessPolicyNames) {
		t.Fatalf("AccessPolicyNames() = %v: not the sorted catalogue", names)
	}
	// Names every source agrees on, and those only one source names.
	for _, n := range []string{
		"AmazonAIOpsAssistantPolicy", "AmazonARCRegionSwitchScalingPolicy", "AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy",
		"AmazonEKSAutoNodePolicy", "AmazonEKSBlockStorageClusterPolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSClusterAdminPolicy",
		"AmazonEKSClusterInsightsPolicy", "AmazonEKSComputeClusterPolicy", "AmazonEKSComputePolicy", "AmazonEKSEditPolicy",
		"AmazonEKSHybridPolicy", "AmazonEKSLoadBalancingClusterPolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingClusterPolicy",
		"AmazonEKSNetworkingPolicy", "AmazonEKSSecretReaderPolicy", "AmazonEKSViewPolicy", "AmazonEMRJobPolicy",
		"AmazonSagemakerHyperpodClusterPolicy", "AmazonSagemakerHyperpodControllerPolicy", "AmazonSagemakerHyperpodSystemNamespacePolicy",
		"AmazonEKSACKPolicy", "AmazonEKSArgoCDClusterPolicy", "AmazonEKSArgoCDPolicy", "AmazonEKSKROPolicy", "AmazonEKSEventPolicy",
		"AIDevOpsAgentAccessPolicy", "AmazonEKSPodIdentityPolicy", "AmazonEKSSecretAdminPolicy",
		"AmazonSagemakerHyperpodSpacePolicy", "AmazonSagemakerHyperpodSpaceTemplatePolicy", "AmazonSagemakerHyperpodUserClusterPolicy",
		"AmazonSagemakerHyperpodTrainingPolicy", "AmazonSagemakerHyperpodInferencePolicy",
	} {
		if !slices.Contains(names, n) {
			t.Errorf("catalogue lacks %s", n)
		}
	}
	if len(names) != 36 {
		t.Errorf("catalogue has %d names, want the 36 above", len(names))
	}
	names[0] = "Changed"
	if AccessPolicyNames()[0] == "Changed" {
		t.Fatal("AccessPolicyNames returned the catalogue itself, not a copy")
	}
	if names := AccessPolicyNames(); names[0] != "AIDevOpsAgentAccessPolicy" || names[1] != "AmazonAIOpsAssistantPolicy" {
		t.Errorf("catalogue starts %v; the CLI lists AIDevOpsAgentAccessPolicy, then AmazonAIOpsAssistantPolicy", names[:2])
	}
}

func TestCatalogueRefusesADuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("catalogue accepted a name listed in two groups")
		}
	}()
	catalogue([]string{"A", "B"}, []string{"B"})
}

// associateOn associates a policy with an entry of the demo cluster.
func associateOn(c *eks.Client, principal, policy string, scope *types.AccessScope) error {
	_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal), PolicyArn: aws.String(policy), AccessScope: scope,
	})
	return err
}

// TestAccessPoliciesByEntryType: STANDARD entries take any catalogued policy,
// EC2 (Auto Mode) entries AmazonEKSAutoNodePolicy at cluster scope only, the
// other node types none.
func TestAccessPoliciesByEntryType(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	autoNode, view := AccessPolicyARN("AmazonEKSAutoNodePolicy"), AccessPolicyARN("AmazonEKSViewPolicy")
	cluster := &types.AccessScope{Type: types.AccessScopeTypeCluster}
	inKubeSystem := &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"kube-system"}}
	const ec2Only = "Access entries of type EC2 take only the access policy arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy, at cluster scope"
	tests := []struct {
		typ    string
		policy string
		scope  *types.AccessScope
		want   string // "" when accepted
	}{
		{"STANDARD", view, inKubeSystem, ""},
		{"STANDARD", autoNode, cluster, ""},
		{"EC2", autoNode, cluster, ""},
		{"EC2", autoNode, inKubeSystem, ec2Only},
		{"EC2", view, cluster, ec2Only},
		{"EC2", AccessPolicyARN("AmazonEKSClusterAdminPolicy"), cluster, ec2Only},
		{"EC2_LINUX", autoNode, cluster, msgStandardOnly},
		{"EC2_LINUX", view, cluster, msgStandardOnly},
		{"EC2_WINDOWS", autoNode, cluster, msgStandardOnly},
		{"FARGATE_LINUX", view, cluster, msgStandardOnly},
		{"HYBRID_LINUX", AccessPolicyARN("AmazonEKSHybridPolicy"), cluster, msgStandardOnly},
		{"HYPERPOD_LINUX", view, cluster, msgStandardOnly},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.typ, tt.policy[strings.LastIndex(tt.policy, "/")+1:]), func(t *testing.T) {
			principal := roleARN(testAccount, fmt.Sprintf("role-%d", i))
			createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(principal), Type: aws.String(tt.typ)})
			err := associateOn(c, principal, tt.policy, tt.scope)
			if tt.want != "" {
				wantErr[*types.InvalidParameterException](t, err, tt.want)
				if e := s.Entries(testAccount, testRegion, testCluster); len(entryOf(e, principal).Policies) != 0 {
					t.Fatalf("a refused association was kept: %+v", entryOf(e, principal).Policies)
				}
				return
			}
			mustOK(t, err, "associate")
			if got := entryOf(s.Entries(testAccount, testRegion, testCluster), principal).Policies; len(got) != 1 || got[0].PolicyARN != tt.policy {
				t.Fatalf("policies = %+v, want %s", got, tt.policy)
			}
		})
	}
}

func entryOf(entries []Entry, principal string) Entry {
	for _, e := range entries {
		if e.PrincipalARN == principal {
			return e
		}
	}
	return Entry{}
}

// TestAutoNodePolicyLifecycleOnEC2Entry: associate, list and disassociate all
// work on an EC2 entry.
func TestAutoNodePolicyLifecycleOnEC2Entry(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	node, autoNode := roleARN(testAccount, "auto-node"), AccessPolicyARN("AmazonEKSAutoNodePolicy")
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(node), Type: aws.String("EC2")})
	mustOK(t, associateOn(c, node, autoNode, &types.AccessScope{Type: types.AccessScopeTypeCluster}), "associate")
	list, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node)})
	mustOK(t, err, "list")
	if len(list.AssociatedAccessPolicies) != 1 || aws.ToString(list.AssociatedAccessPolicies[0].PolicyArn) != autoNode ||
		list.AssociatedAccessPolicies[0].AccessScope.Type != types.AccessScopeTypeCluster {
		t.Fatalf("associated = %+v", list.AssociatedAccessPolicies)
	}
	_, err = c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node), PolicyArn: aws.String(autoNode)})
	mustOK(t, err, "disassociate")
	list, err = c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node)})
	mustOK(t, err, "list after disassociate")
	if len(list.AssociatedAccessPolicies) != 0 {
		t.Fatalf("associated after disassociate = %+v", list.AssociatedAccessPolicies)
	}
}

// TestListAssociatedOnEC2LinuxThroughTheSDK: EKS answers 400
// InvalidParameterException, a code the model does not declare for
// ListAssociatedAccessPolicies. SDKs whose deserializers switch on the
// operation's declared errors (aws-sdk-go-v2 service/eks up to at least
// v1.80.0) surface it as a generic smithy.APIError; v1.105's schema-based
// deserializer resolves codes through the service-wide type registry, so it
// also matches *types.InvalidParameterException. Code, status and message are
// what a caller can rely on with either.
func TestListAssociatedOnEC2LinuxThroughTheSDK(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	for _, typ := range []string{"EC2_LINUX", "EC2_WINDOWS"} {
		t.Run(typ, func(t *testing.T) {
			node := roleARN(testAccount, "ng-"+strings.ToLower(typ))
			createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(node), Type: aws.String(typ)})
			_, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node)})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not a smithy.APIError", err)
			}
			if apiErr.ErrorCode() != "InvalidParameterException" || apiErr.ErrorMessage() != msgStandardOnly {
				t.Fatalf("code %q message %q", apiErr.ErrorCode(), apiErr.ErrorMessage())
			}
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != http.StatusBadRequest {
				t.Fatalf("HTTP status of %v is not 400", err)
			}
			var typed *types.InvalidParameterException
			if !errors.As(err, &typed) {
				t.Fatalf("with aws-sdk-go-v2 service/eks v1.105 the error is typed; got %T", apiErr)
			}
		})
	}
}
