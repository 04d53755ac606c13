package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// k8s is a client of the real kube-apiserver started in TestMain, with the CRDs
// generated from this package installed: the schema and CEL rules under test are
// the ones users get.
var k8s client.Client

// env is the control plane, kept for its kubectl and its users; adminCfg
// authenticates as its administrator.
var (
	env      *envtest.Environment
	adminCfg *rest.Config
)

const ns = "validation"

func TestMain(m *testing.M) {
	if testenv.UnitOnly() {
		os.Exit(m.Run())
	}
	var err error
	env, adminCfg, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer func() { _ = env.Stop() }()
		scheme := runtime.NewScheme()
		_ = clientgoscheme.AddToScheme(scheme)
		_ = v1.AddToScheme(scheme)
		k8s, err = client.New(adminCfg, client.Options{Scheme: scheme})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// validEntry is a STANDARD entry that passes every rule; each case changes one thing.
func validEntry() *v1.AccessEntry {
	return &v1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ae-", Namespace: ns},
		Spec: v1.AccessEntrySpec{
			ClusterName:      "demo",
			Region:           "us-west-2",
			PrincipalARN:     "arn:aws:iam::111122223333:role/my-role",
			Username:         "my-user",
			KubernetesGroups: []v1.KubernetesGroup{"viewers"},
			AccessPolicies: []v1.AccessPolicy{{
				PolicyARN:   "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
				AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster},
			}},
			Tags: map[string]v1.TagValue{"team": "platform"},
		},
	}
}

// nodeEntry is a valid EC2_LINUX entry.
func nodeEntry() *v1.AccessEntry {
	ae := validEntry()
	ae.Spec.Type = v1.TypeEC2Linux
	ae.Spec.Username = ""
	ae.Spec.KubernetesGroups = nil
	ae.Spec.AccessPolicies = nil
	return ae
}

func nsScope(namespaces ...v1.ScopeNamespace) v1.AccessScope {
	return v1.AccessScope{Type: v1.AccessScopeNamespace, Namespaces: namespaces}
}

func tags(n int) map[string]v1.TagValue {
	t := map[string]v1.TagValue{}
	for i := range n {
		t[fmt.Sprintf("key-%d", i)] = "v"
	}
	return t
}

func groups(n int) []v1.KubernetesGroup {
	g := make([]v1.KubernetesGroup, n)
	for i := range g {
		g[i] = v1.KubernetesGroup(fmt.Sprintf("group-%d", i))
	}
	return g
}

// TestAdmission submits each object to the API server and checks that it is
// accepted, or refused with an error naming the field and saying what is wrong.
func TestAdmission(t *testing.T) {
	testenv.RequireControlPlane(t)
	cases := []struct {
		name string
		// base is validEntry unless set.
		base   func() *v1.AccessEntry
		mutate func(s *v1.AccessEntrySpec)
		// wantField and wantMsg are "" for an object that must be accepted.
		wantField, wantMsg string
	}{
		// principalARN
		{name: "role", mutate: func(s *v1.AccessEntrySpec) {}},
		// {{SessionNameRaw}}
		{name: "username with SessionNameRaw after a colon", mutate: func(s *v1.AccessEntrySpec) { s.Username = "dev:{{SessionNameRaw}}" }},
		{name: "username with SessionNameRaw and no colon", mutate: func(s *v1.AccessEntrySpec) { s.Username = "dev-{{SessionNameRaw}}" },
			wantField: "spec.username", wantMsg: "{{SessionNameRaw}} needs a colon before it"},
		{name: "username with SessionNameRaw, the colon after it", mutate: func(s *v1.AccessEntrySpec) { s.Username = "{{SessionNameRaw}}:dev" },
			wantField: "spec.username", wantMsg: "{{SessionNameRaw}} needs a colon before it"},
		// identityCenter
		{name: "permission set", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: "Developers"}
		}},
		{name: "permission set in an account", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: "team-a_readers+1", Account: "444455556666"}
		}},
		{name: "permission set and principalARN", mutate: func(s *v1.AccessEntrySpec) {
			s.IdentityCenter = &v1.IdentityCenterPrincipal{PermissionSet: "Developers"}
		}, wantField: "spec", wantMsg: "name the principal once: set spec.principalARN"},
		{name: "permission set name with a space", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: "Power Users"}
		}, wantField: "spec.identityCenter.permissionSet", wantMsg: "must be a permission set name"},
		{name: "permission set name of 33 characters", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: strings.Repeat("a", 33)}
		}, wantField: "spec.identityCenter.permissionSet", wantMsg: "32"},
		{name: "permission set account of 11 digits", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: "Developers", Account: "11112222333"}
		}, wantField: "spec.identityCenter.account", wantMsg: "12-digit"},
		{name: "permission set for a node type", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN, s.IdentityCenter = "", &v1.IdentityCenterPrincipal{PermissionSet: "Nodes"}
			s.Type, s.Username, s.KubernetesGroups, s.AccessPolicies = v1.TypeEC2Linux, "", nil, nil
		}, wantField: "spec", wantMsg: "use type STANDARD"},
		{name: "role with path", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = "arn:aws:iam::111122223333:role/development/apps/my-role"
		}},
		{name: "user", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:iam::111122223333:user/alice" }},
		{name: "china partition", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-cn:iam::111122223333:role/r" }},
		{name: "govcloud partition", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-us-gov:iam::111122223333:role/r" }},
		{name: "european sovereign cloud partition", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-eusc:iam::111122223333:role/r" }},
		{name: "iso-b partition", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-iso-b:iam::111122223333:user/u" }},
		{name: "policy in the european sovereign cloud", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].PolicyARN = "arn:aws-eusc:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
		}},
		{name: "policy named in no catalogue yet", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].PolicyARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSArgoCDClusterPolicy"
		}},
		{name: "missing principal", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "" },
			wantField: "spec", wantMsg: "not both and not neither"},
		{name: "sts session", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = "arn:aws:sts::111122223333:assumed-role/my-role/alice"
		}, wantField: "spec.principalARN", wantMsg: "not an STS session"},
		{name: "service-linked role", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
		}, wantField: "spec.principalARN", wantMsg: "service-linked role"},
		{name: "short account", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:iam::11112222333:role/r" },
			wantField: "spec.principalARN", wantMsg: "must be an IAM role or user ARN"},
		{name: "iam group", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws:iam::111122223333:group/devs" },
			wantField: "spec.principalARN", wantMsg: "must be an IAM role or user ARN"},
		{name: "unknown partition", mutate: func(s *v1.AccessEntrySpec) { s.PrincipalARN = "arn:aws-xx:iam::111122223333:role/r" },
			wantField: "spec.principalARN", wantMsg: "must be an IAM role or user ARN"},
		{name: "role name too long", mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = "arn:aws:iam::111122223333:role/" + strings.Repeat("r", 65)
		}, wantField: "spec.principalARN", wantMsg: "must be an IAM role or user ARN"},

		// type
		{name: "unknown type", mutate: func(s *v1.AccessEntrySpec) { s.Type = "LINUX" },
			wantField: "spec.type", wantMsg: `Unsupported value: "LINUX"`},
		{name: "EC2_LINUX node role", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {}},
		{name: "EC2_WINDOWS node role", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) { s.Type = v1.TypeEC2Windows }},
		{name: "HYPERPOD_LINUX node role", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) { s.Type = v1.TypeHyperpodLinux }},
		{name: "node type with a user", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.PrincipalARN = "arn:aws:iam::111122223333:user/alice"
		}, wantField: "spec", wantMsg: "type EC2_LINUX is for node roles: principalARN must be an IAM role"},
		{name: "node type with username", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) { s.Username = "node" },
			wantField: "spec", wantMsg: "username is only allowed for type STANDARD"},
		{name: "node type with groups", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.Type = v1.TypeFargateLinux
			s.KubernetesGroups = []v1.KubernetesGroup{"pods"}
		}, wantField: "spec", wantMsg: "kubernetesGroups are only allowed for type STANDARD; EKS gives FARGATE_LINUX"},
		{name: "EC2_LINUX with policies", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = validEntry().Spec.AccessPolicies
		}, wantField: "spec", wantMsg: "accessPolicies cannot be associated with EC2_LINUX entries"},
		{name: "EC2_WINDOWS with policies", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.Type = v1.TypeEC2Windows
			s.AccessPolicies = validEntry().Spec.AccessPolicies
		}, wantField: "spec", wantMsg: "an EKS Auto Mode node role is type EC2"},
		{name: "EC2 auto mode node role with its policy", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.Type = v1.TypeEC2
			s.AccessPolicies = []v1.AccessPolicy{{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy", AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}
		}},
		{name: "HYBRID_LINUX with policies, which EKS documents neither way", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.Type = v1.TypeHybridLinux
			s.AccessPolicies = validEntry().Spec.AccessPolicies
		}},
		{name: "EC2 auto mode with username", base: nodeEntry, mutate: func(s *v1.AccessEntrySpec) {
			s.Type = v1.TypeEC2
			s.Username = "x"
		}, wantField: "spec", wantMsg: "EKS names EC2 principals itself"},

		// username
		{name: "username with session after colon", mutate: func(s *v1.AccessEntrySpec) { s.Username = "jo:hn{{SessionName}}" }},
		{name: "username starting with colon", mutate: func(s *v1.AccessEntrySpec) { s.Username = ":john{{SessionName}}" }},
		{name: "username system:", mutate: func(s *v1.AccessEntrySpec) { s.Username = "system:admin" },
			wantField: "spec.username", wantMsg: "must not start with system:, eks:, aws:, amazon: or iam:"},
		{name: "username eks:", mutate: func(s *v1.AccessEntrySpec) { s.Username = "eks:admin" },
			wantField: "spec.username", wantMsg: "must not start with system:"},
		{name: "username aws:", mutate: func(s *v1.AccessEntrySpec) { s.Username = "aws:admin" },
			wantField: "spec.username", wantMsg: "must not start with system:"},
		{name: "username amazon:", mutate: func(s *v1.AccessEntrySpec) { s.Username = "amazon:admin" },
			wantField: "spec.username", wantMsg: "must not start with system:"},
		{name: "username iam:", mutate: func(s *v1.AccessEntrySpec) { s.Username = "iam:admin" },
			wantField: "spec.username", wantMsg: "must not start with system:"},
		{name: "username session without colon", mutate: func(s *v1.AccessEntrySpec) { s.Username = "john{{SessionName}}" },
			wantField: "spec.username", wantMsg: "needs a colon before it"},
		{name: "username too long", mutate: func(s *v1.AccessEntrySpec) { s.Username = strings.Repeat("u", 513) },
			wantField: "spec.username", wantMsg: "Too long"},

		// kubernetesGroups
		{name: "system group", mutate: func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{"system:masters"} },
			wantField: "spec.kubernetesGroups[0]", wantMsg: "must not start with 'system:'"},
		{name: "duplicate group", mutate: func(s *v1.AccessEntrySpec) { s.KubernetesGroups = []v1.KubernetesGroup{"a", "a"} },
			wantField: "spec.kubernetesGroups[1]", wantMsg: "Duplicate value"},
		{name: "100 groups", mutate: func(s *v1.AccessEntrySpec) { s.KubernetesGroups = groups(100) }},
		{name: "101 groups", mutate: func(s *v1.AccessEntrySpec) { s.KubernetesGroups = groups(101) },
			wantField: "spec.kubernetesGroups", wantMsg: "Too many"},

		// accessPolicies
		{name: "iam policy instead of access policy", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].PolicyARN = "arn:aws:iam::aws:policy/AdministratorAccess"
		}, wantField: "spec.accessPolicies[0].policyARN", wantMsg: "must be an EKS access policy ARN"},
		{name: "same policy twice", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies = append(s.AccessPolicies, s.AccessPolicies[0])
		}, wantField: "spec.accessPolicies[1]", wantMsg: "Duplicate value"},
		{name: "namespace scope", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].AccessScope = nsScope("team-a", "dev-*")
		}},
		{name: "namespace scope without namespaces", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].AccessScope = nsScope()
		}, wantField: "spec.accessPolicies[0].accessScope", wantMsg: "needs at least one entry in accessScope.namespaces"},
		{name: "cluster scope with namespaces", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].AccessScope = v1.AccessScope{Type: v1.AccessScopeCluster, Namespaces: []v1.ScopeNamespace{"a"}}
		}, wantField: "spec.accessPolicies[0].accessScope", wantMsg: "applies to all namespaces: remove accessScope.namespaces"},
		{name: "unknown scope type", mutate: func(s *v1.AccessEntrySpec) { s.AccessPolicies[0].AccessScope.Type = "global" },
			wantField: "spec.accessPolicies[0].accessScope.type", wantMsg: `Unsupported value: "global"`},
		{name: "namespace not a DNS label", mutate: func(s *v1.AccessEntrySpec) {
			s.AccessPolicies[0].AccessScope = nsScope("Team_A")
		}, wantField: "spec.accessPolicies[0].accessScope.namespaces[0]", wantMsg: "must be DNS labels"},
		{name: "bare wildcard", mutate: func(s *v1.AccessEntrySpec) { s.AccessPolicies[0].AccessScope = nsScope("*") },
			wantField: "spec.accessPolicies[0].accessScope.namespaces[0]", wantMsg: "optionally ending in one '*' wildcard"},
		{name: "wildcard in the middle", mutate: func(s *v1.AccessEntrySpec) { s.AccessPolicies[0].AccessScope = nsScope("a*b") },
			wantField: "spec.accessPolicies[0].accessScope.namespaces[0]", wantMsg: "must be DNS labels"},
		{name: "two wildcards", mutate: func(s *v1.AccessEntrySpec) { s.AccessPolicies[0].AccessScope = nsScope("dev-**") },
			wantField: "spec.accessPolicies[0].accessScope.namespaces[0]", wantMsg: "must be DNS labels"},
		{name: "duplicate namespace", mutate: func(s *v1.AccessEntrySpec) { s.AccessPolicies[0].AccessScope = nsScope("a", "a") },
			wantField: "spec.accessPolicies[0].accessScope.namespaces[1]", wantMsg: "Duplicate value"},

		// tags
		{name: "47 tags", mutate: func(s *v1.AccessEntrySpec) { s.Tags = tags(47) }},
		{name: "48 tags", mutate: func(s *v1.AccessEntrySpec) { s.Tags = tags(48) },
			wantField: "spec.tags", wantMsg: "must have at most 47 items"},
		{name: "tag key too long", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{strings.Repeat("k", 129): "v"} },
			wantField: "spec.tags", wantMsg: "tag keys must be 1 to 128 characters long"},
		{name: "empty tag key", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"": "v"} },
			wantField: "spec.tags", wantMsg: "tag keys must be 1 to 128 characters long"},
		{name: "tag value too long", mutate: func(s *v1.AccessEntrySpec) {
			s.Tags = map[string]v1.TagValue{"k": v1.TagValue(strings.Repeat("v", 257))}
		},
			wantField: "spec.tags.k", wantMsg: "Too long"},
		{name: "empty tag value", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"k": ""} }},
		{name: "tags in other scripts and with spaces", mutate: func(s *v1.AccessEntrySpec) {
			s.Tags = map[string]v1.TagValue{"équipe plateforme": "données/été:2026", "チーム": "基盤 +=@-_."}
		}},
		{name: "tag key of 128 characters in three bytes each", mutate: func(s *v1.AccessEntrySpec) {
			s.Tags = map[string]v1.TagValue{strings.Repeat("界", 128): v1.TagValue(strings.Repeat("界", 256))}
		}},
		{name: "tag key with a forbidden character", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"cost#center": "v"} },
			wantField: "spec.tags", wantMsg: "tag keys may hold only letters, digits, spaces"},
		{name: "tag value with a forbidden character", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"k": "a,b"} },
			wantField: "spec.tags[k]", wantMsg: "tag values may hold only letters, digits, spaces"},
		{name: "tag value with the aws prefix", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"k": "AWS:cloudformation"} },
			wantField: "spec.tags[k]", wantMsg: "tag values must not start with 'aws:'"},
		{name: "aws tag prefix", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"aws:cost": "v"} },
			wantField: "spec.tags", wantMsg: "must not start with 'aws:'"},
		{name: "AWS tag prefix in capitals", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"AWS:Cost": "v"} },
			wantField: "spec.tags", wantMsg: "must not start with 'aws:'"},
		{name: "operator tag prefix", mutate: func(s *v1.AccessEntrySpec) { s.Tags = map[string]v1.TagValue{"eksaccess.io/owner": "me"} },
			wantField: "spec.tags", wantMsg: "must not start with 'eksaccess.io/'"},

		// clusterName
		{name: "cluster name with underscore", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = "my_cluster-1" }},
		{name: "cluster name of 100", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = strings.Repeat("c", 100) }},
		{name: "cluster name of 101", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = strings.Repeat("c", 101) },
			wantField: "spec.clusterName", wantMsg: "Too long"},
		{name: "cluster name starting with dash", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = "-demo" },
			wantField: "spec.clusterName", wantMsg: "must start with a letter or digit"},
		{name: "cluster name with dot", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = "my.cluster" },
			wantField: "spec.clusterName", wantMsg: "contain only letters, digits, '-' and '_'"},
		{name: "missing cluster name", mutate: func(s *v1.AccessEntrySpec) { s.ClusterName = "" },
			wantField: "spec.clusterName", wantMsg: "should be at least 1 chars long"},

		// region
		{name: "no region", mutate: func(s *v1.AccessEntrySpec) { s.Region = "" }},
		{name: "govcloud region", mutate: func(s *v1.AccessEntrySpec) { s.Region = "us-gov-west-1" }},
		{name: "china region", mutate: func(s *v1.AccessEntrySpec) { s.Region = "cn-northwest-1" }},
		{name: "european sovereign cloud region", mutate: func(s *v1.AccessEntrySpec) { s.Region = "eusc-de-east-1" }},
		{name: "iso-b region", mutate: func(s *v1.AccessEntrySpec) { s.Region = "us-isob-east-1" }},
		{name: "region with underscores", mutate: func(s *v1.AccessEntrySpec) { s.Region = "us_west_2" },
			wantField: "spec.region", wantMsg: "must be an AWS region name"},
		{name: "region in capitals", mutate: func(s *v1.AccessEntrySpec) { s.Region = "US-WEST-2" },
			wantField: "spec.region", wantMsg: "must be an AWS region name"},
		{name: "availability zone", mutate: func(s *v1.AccessEntrySpec) { s.Region = "us-west-2a" },
			wantField: "spec.region", wantMsg: "must be an AWS region name"},

		// deletionPolicy
		{name: "retain", mutate: func(s *v1.AccessEntrySpec) { s.DeletionPolicy = v1.DeletionPolicyRetain }},
		{name: "unknown deletion policy", mutate: func(s *v1.AccessEntrySpec) { s.DeletionPolicy = "Orphan" },
			wantField: "spec.deletionPolicy", wantMsg: `Unsupported value: "Orphan"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := validEntry
			if tc.base != nil {
				base = tc.base
			}
			ae := base()
			tc.mutate(&ae.Spec)
			err := k8s.Create(context.Background(), ae)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("want the object accepted, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want a refusal naming %s with %q, but the object was accepted", tc.wantField, tc.wantMsg)
			}
			if !strings.Contains(err.Error(), tc.wantField+":") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("want a refusal naming %s with %q, got: %v", tc.wantField, tc.wantMsg, err)
			}
		})
	}
}

// TestDefaults checks the defaults the schema fills in.
func TestDefaults(t *testing.T) {
	testenv.RequireControlPlane(t)
	ae := validEntry()
	if err := k8s.Create(context.Background(), ae); err != nil {
		t.Fatal(err)
	}
	if ae.Spec.Type != v1.TypeStandard {
		t.Errorf("type defaulted to %q, want STANDARD", ae.Spec.Type)
	}
	if ae.Spec.DeletionPolicy != v1.DeletionPolicyDelete {
		t.Errorf("deletionPolicy defaulted to %q, want Delete", ae.Spec.DeletionPolicy)
	}
}

// TestIdentityFieldsMayChange checks that clusterName, region, principalARN and type
// stay mutable: the controller recreates the EKS entry when they change.
func TestIdentityFieldsMayChange(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	ae := validEntry()
	if err := k8s.Create(ctx, ae); err != nil {
		t.Fatal(err)
	}
	ae.Spec.ClusterName = "other"
	ae.Spec.Region = "eu-west-1"
	ae.Spec.PrincipalARN = "arn:aws:iam::111122223333:role/nodes"
	ae.Spec.Type = v1.TypeEC2Linux
	ae.Spec.Username = ""
	ae.Spec.KubernetesGroups = nil
	ae.Spec.AccessPolicies = nil
	if err := k8s.Update(ctx, ae); err != nil {
		t.Fatalf("changing the identity fields was refused: %v", err)
	}
}

// TestSamples checks that every manifest in config/samples is accepted.
func TestSamples(t *testing.T) {
	testenv.RequireControlPlane(t)
	samples := testenv.Samples(t)
	if len(samples) == 0 {
		t.Fatal("no AccessEntry found in config/samples")
	}
	for _, ae := range samples {
		ae.Namespace = ns
		if err := k8s.Create(context.Background(), ae); err != nil {
			t.Errorf("sample %s was refused: %v", ae.Name, err)
		}
	}
}

// TestClusterAccessConfigAdmission checks the ClusterAccessConfig rules the API
// server enforces: the authentication mode only moves forward, and the role and
// names are well formed.
func TestClusterAccessConfigAdmission(t *testing.T) {
	testenv.RequireControlPlane(t)
	ctx := context.Background()
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{Name: "forward"},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo", AuthenticationMode: v1.AuthenticationModeAPIAndConfigMap}}
	if err := k8s.Create(ctx, cac); err != nil {
		t.Fatal(err)
	}
	cac.Spec.AuthenticationMode = v1.AuthenticationModeAPI
	if err := k8s.Update(ctx, cac); err != nil {
		t.Fatalf("API_AND_CONFIG_MAP to API was refused: %v", err)
	}
	cac.Spec.AuthenticationMode = v1.AuthenticationModeAPIAndConfigMap
	if err := k8s.Update(ctx, cac); err == nil || !strings.Contains(err.Error(), "spec.authenticationMode") ||
		!strings.Contains(err.Error(), "can only move forward") {
		t.Fatalf("want API to API_AND_CONFIG_MAP refused, got %v", err)
	}

	for _, tc := range []struct {
		name      string
		mutate    func(*v1.ClusterAccessConfigSpec)
		wantField string
		wantMsg   string
	}{
		{"CONFIG_MAP cannot be asked for", func(s *v1.ClusterAccessConfigSpec) { s.AuthenticationMode = "CONFIG_MAP" },
			"spec.authenticationMode", `Unsupported value: "CONFIG_MAP"`},
		{"role ARN", func(s *v1.ClusterAccessConfigSpec) { s.RoleARN = "arn:aws:iam::444455556666:user/alice" },
			"spec.roleARN", "must be an IAM role ARN"},
		{"cluster name", func(s *v1.ClusterAccessConfigSpec) { s.ClusterName = "my.cluster" },
			"spec.clusterName", "contain only letters, digits"},
		{"unmanaged policy", func(s *v1.ClusterAccessConfigSpec) { s.UnmanagedEntries.Policy = "Purge" },
			"spec.unmanagedEntries.policy", `Unsupported value: "Purge"`},
		{"rule types", func(s *v1.ClusterAccessConfigSpec) {
			s.Guardrails.Rules = []v1.GrantRule{{Name: "r", Namespaces: v1.RuleNamespaces{Names: []string{"a"}}, Types: []v1.AccessEntryType{"LINUX"}}}
		}, "spec.guardrails.rules[0].types[0]", `Unsupported value: "LINUX"`},
		{"a rule that admits no namespace", func(s *v1.ClusterAccessConfigSpec) {
			s.Guardrails.Rules = []v1.GrantRule{{Name: "r"}}
		}, "spec.guardrails.rules[0].namespaces", "a rule must say which namespaces it admits"},
		{"a scope namespace pattern with a wildcard inside", func(s *v1.ClusterAccessConfigSpec) {
			s.Guardrails.Rules = []v1.GrantRule{{Name: "r", Namespaces: v1.RuleNamespaces{Names: []string{"a"}},
				AccessPolicies: []v1.PolicyGrant{{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", Namespaces: []v1.NamespacePattern{"kube*system"}}}}}
		}, "spec.guardrails.rules[0].accessPolicies[0].namespaces[0]", "should match"},
		{"an account that is not one", func(s *v1.ClusterAccessConfigSpec) {
			s.Guardrails.Rules = []v1.GrantRule{{Name: "r", Namespaces: v1.RuleNamespaces{Names: []string{"a"}}, Principals: v1.RulePrincipals{Accounts: []string{"self"}}}}
		}, "spec.guardrails.rules[0].principals.accounts[0]", "should match"},
		{"enforcement", func(s *v1.ClusterAccessConfigSpec) { s.Guardrails.Enforcement = "Warn" },
			"spec.guardrails.enforcement", `Unsupported value: "Warn"`},
		{"a type in protect", func(s *v1.ClusterAccessConfigSpec) { s.UnmanagedEntries.Protect = []string{"type:EC2_LINUX"} },
			"spec.unmanagedEntries.protect", "list type:TYPE in spec.unmanagedEntries.deleteAlso"},
		{"a region of no partition", func(s *v1.ClusterAccessConfigSpec) { s.Region = "mars-north-1x" },
			"spec.region", "must be an AWS region name"},
		{"a time-bound rule that allows Retain", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.AllowRetain = true
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0]", "a time-bound rule cannot allow Retain"},
		{"a time-bound rule that allows adoption", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.AllowAdoption = true
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0]", "a time-bound rule cannot allow adoption"},
		{"a time-bound rule longer than 30 days", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.TimeBound.MaxDuration.Duration = 800 * time.Hour
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0].timeBound.maxDuration", "between 1m and 720h"},
		{"a time-bound rule nobody approves", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.TimeBound.Approvers = v1.Approvers{}
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0].timeBound.approvers", "name at least one user or group"},
		{"approvers that are everyone", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.TimeBound.Approvers.Groups = []string{"platform-oncall", "system:authenticated"}
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0].timeBound.approvers.groups", "anyone could approve"},
		{"six approvals", func(s *v1.ClusterAccessConfigSpec) {
			r := timeBoundRule()
			r.TimeBound.Approvals = 6
			s.Guardrails.Rules = []v1.GrantRule{r}
		}, "spec.guardrails.rules[0].timeBound.approvals", "less than or equal to 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{GenerateName: "cac-"}, Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo"}}
			tc.mutate(&bad.Spec)
			err := k8s.Create(ctx, bad)
			if err == nil || !strings.Contains(err.Error(), tc.wantField+":") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("want a refusal naming %s with %q, got %v", tc.wantField, tc.wantMsg, err)
			}
		})
	}
}

// timeBoundRule is a valid rule for time-bound ClusterAdmin: each case changes one thing.
func timeBoundRule() v1.GrantRule {
	return v1.GrantRule{Name: "oncall", Namespaces: v1.RuleNamespaces{Names: []string{"a"}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", ClusterScope: true}},
		TimeBound: &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 4 * time.Hour},
			Approvers: v1.Approvers{Groups: []string{"platform-oncall"}}}}
}

// TestTimeBoundRuleDefaults: a time-bound rule as written, with the defaults the
// API server fills in: one approval, a day to get it.
func TestTimeBoundRuleDefaults(t *testing.T) {
	testenv.RequireControlPlane(t)
	cac := &v1.ClusterAccessConfig{ObjectMeta: metav1.ObjectMeta{GenerateName: "cac-"},
		Spec: v1.ClusterAccessConfigSpec{ClusterName: "demo", Guardrails: v1.Guardrails{Rules: []v1.GrantRule{timeBoundRule()}}}}
	if err := k8s.Create(context.Background(), cac); err != nil {
		t.Fatal(err)
	}
	tb := cac.Spec.Guardrails.Rules[0].TimeBound
	if tb.Approvals != 1 || tb.PendingFor == nil || tb.PendingFor.Duration != 24*time.Hour {
		t.Fatalf("defaults: %d approvals, pending for %v; want 1 and 24h", tb.Approvals, tb.PendingFor)
	}
}
