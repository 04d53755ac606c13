package onboard

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// validateSpec stands in for the CRD so that nothing the API server would refuse is
// printed. This test keeps the two in step: every spec here is judged by both,
// and they must agree.
func TestValidateSpecAgreesWithTheAPIServer(t *testing.T) {
	testenv.RequireControlPlane(t)
	base := func(mut func(*v1.AccessEntrySpec)) v1.AccessEntrySpec {
		s := v1.AccessEntrySpec{ClusterName: "demo", Region: region, PrincipalARN: roleARN("dev")}
		mut(&s)
		return s
	}
	policy := func(arn string, typ v1.AccessScopeType, ns ...v1.ScopeNamespace) v1.AccessPolicy {
		return v1.AccessPolicy{PolicyARN: arn, AccessScope: v1.AccessScope{Type: typ, Namespaces: ns}}
	}
	manyTags := map[string]v1.TagValue{}
	for i := range 48 {
		manyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name  string
		spec  v1.AccessEntrySpec
		valid bool
	}{
		{"minimal", base(func(*v1.AccessEntrySpec) {}), true},
		{"everything", base(func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = roleARN("aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Dev_0123456789abcdef")
			s.Username = "dev:{{SessionName}}"
			s.KubernetesGroups = []v1.KubernetesGroup{"dev", "eks:viewers"}
			s.AccessPolicies = []v1.AccessPolicy{policy(editPolicy, v1.AccessScopeNamespace, "team-a", "team-a-*"), policy(viewPolicy, v1.AccessScopeCluster)}
			s.Tags = map[string]v1.TagValue{"team": "a", "true": "0123"}
			s.DeletionPolicy = v1.DeletionPolicyRetain
		}), true},
		{"node type", base(func(s *v1.AccessEntrySpec) { s.Type = v1.TypeEC2Windows }), true},
		{"user", base(func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:iam::" + account + ":user/ci/bot" }), true},
		{"bad cluster", base(func(s *v1.AccessEntrySpec) { s.ClusterName = "-demo" }), false},
		{"bad region", base(func(s *v1.AccessEntrySpec) { s.Region = "uswest2" }), false},
		{"session principal", base(func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:sts::" + account + ":assumed-role/dev/me" }), false},
		{"service-linked role", base(func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = roleARN("aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers")
		}), false},
		{"iso partition", base(func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-iso:iam::" + account + ":role/dev" }), true},
		{"european sovereign cloud partition", base(func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-eusc:iam::" + account + ":role/dev" }), true},
		{"a partition that does not exist", base(func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-moon:iam::" + account + ":role/dev" }), false},
		{"european sovereign cloud region", base(func(s *v1.AccessEntrySpec) { s.Region = "eusc-de-east-1" }), true},
		{"node type for a user", base(func(s *v1.AccessEntrySpec) {
			s.Type, s.PrincipalARN = v1.TypeEC2Linux, "arn:aws:iam::"+account+":user/nodes"
		}), false},
		{"node type with username", base(func(s *v1.AccessEntrySpec) { s.Type, s.Username = v1.TypeFargateLinux, "x" }), false},
		{"node type with groups", base(func(s *v1.AccessEntrySpec) { s.Type, s.KubernetesGroups = v1.TypeEC2Linux, []v1.KubernetesGroup{"x"} }), false},
		{"EC2_WINDOWS with policies", base(func(s *v1.AccessEntrySpec) {
			s.Type, s.AccessPolicies = v1.TypeEC2Windows, []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeCluster)}
		}), false},
		{"EC2 with its policy", base(func(s *v1.AccessEntrySpec) {
			s.Type, s.AccessPolicies = v1.TypeEC2, []v1.AccessPolicy{policy("arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy", v1.AccessScopeCluster)}
		}), true},
		{"HYBRID_LINUX with policies, left to EKS", base(func(s *v1.AccessEntrySpec) {
			s.Type, s.AccessPolicies = v1.TypeHybridLinux, []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeCluster)}
		}), true},
		{"tag key with a comma", base(func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"a,b": "v"} }), false},
		{"tag value with the aws prefix", base(func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"k": "aws:x"} }), false},
		{"tags in other scripts", base(func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"équipe": "données 2026"} }), true},
		{"reserved username", base(func(s *v1.AccessEntrySpec) { s.Username = "amazon:me" }), false},
		{"session name without colon", base(func(s *v1.AccessEntrySpec) { s.Username = "dev-{{SessionName}}" }), false},
		{"system group", base(func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{"system:masters"} }), false},
		{"duplicate group", base(func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{"a", "a"} }), false},
		{"long group", base(func(s *v1.AccessEntrySpec) {
			s.KubernetesGroups = []v1.KubernetesGroup{v1.KubernetesGroup(strings.Repeat("g", 257))}
		}), false},
		{"bad policy ARN", base(func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{policy("arn:aws:iam::aws:policy/AdministratorAccess", v1.AccessScopeCluster)}
		}), false},
		{"cluster scope with namespaces", base(func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeCluster, "apps")}
		}), false},
		{"namespace scope without namespaces", base(func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeNamespace)}
		}), false},
		{"bad namespace", base(func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeNamespace, "*-apps")}
		}), false},
		{"policy twice", base(func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = []v1.AccessPolicy{policy(viewPolicy, v1.AccessScopeCluster), policy(viewPolicy, v1.AccessScopeNamespace, "a")}
		}), false},
		{"aws tag", base(func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"AWS:cloudformation:stack-name": "x"} }), false},
		{"ownership tag", base(func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"eksaccess.io/name": "x"} }), false},
		{"48 tags", base(func(s *v1.AccessEntrySpec) { s.Tags = manyTags }), false},
		{"long tag value", base(func(s *v1.AccessEntrySpec) {
			s.Tags = map[string]v1.TagValue{"k": v1.TagValue(strings.Repeat("v", 257))}
		}), false},
		{"bad deletionPolicy", base(func(s *v1.AccessEntrySpec) { s.DeletionPolicy = "Orphan" }), false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := validateSpec(tc.spec)
			ae := &v1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("case-%d", i), Namespace: "platform"}, Spec: tc.spec}
			apiErr := k8s.Create(context.Background(), ae, client.DryRunAll)
			if (len(errs) == 0) != tc.valid || (apiErr == nil) != tc.valid {
				t.Fatalf("want valid=%v; validateSpec: %v; API server: %v", tc.valid, errs, apiErr)
			}
		})
	}
}
