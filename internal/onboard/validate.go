package onboard

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// The CRD's patterns (api/v1alpha1/accessentry_types.go). validateSpec mirrors the
// schema so that a manifest the API server would refuse is reported and left out
// instead of printed; the tests apply every output to a real API server, and check
// that both refuse the same bad specs.
var (
	clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]*$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	principalRE   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):(role|user)/((?:[A-Za-z0-9_+=,.@-]+/)*)([A-Za-z0-9_+=,.@-]{1,64})$`)
	policyARNRE   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):eks::aws:cluster-access-policy/[A-Za-z0-9][A-Za-z0-9_+=,.@-]*$`)
	namespaceRE   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?|[a-z0-9][-a-z0-9]*[*])$`)
	stsARNRE      = regexp.MustCompile(`^arn:[^:]+:sts::`)
	linkedRoleRE  = regexp.MustCompile(`^arn:[^:]+:iam::[0-9]{12}:role/aws-service-role/`)
	nodeRoleRE    = regexp.MustCompile(`^arn:[^:]+:iam::[0-9]{12}:role/`)
	tagCharsRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

var reservedUsernamePrefixes = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

// The session templates of a username: a colon must come before them. EKS
// documents the rule for {{SessionName}}; the operator holds
// {{SessionNameRaw}} to it too.
var sessionNames = []string{sessionName, phSessionNameRaw}

const sessionName = "{{SessionName}}"

// usernameProblem says why EKS (and the CRD) refuse a username, or "".
func usernameProblem(u string) string {
	for _, p := range reservedUsernamePrefixes {
		if strings.HasPrefix(u, p) {
			return "it starts with " + p + ", which is reserved"
		}
	}
	for _, s := range sessionNames {
		if i := strings.Index(u, s); i >= 0 && !strings.Contains(u[:i], ":") {
			return s + " needs a colon before it"
		}
	}
	if n := utf8.RuneCountInString(u); n > 512 {
		return fmt.Sprintf("it is %d characters long; at most 512 are allowed", n)
	}
	return ""
}

// checkTarget refuses a cluster, region or namespace no AccessEntry can name.
func checkTarget(cluster, region, namespace string) error {
	if len(cluster) < 1 || len(cluster) > 100 || !clusterNameRE.MatchString(cluster) {
		return fmt.Errorf("cluster name %q is not valid: 1 to 100 letters, digits, '-' and '_', starting with a letter or digit", cluster)
	}
	if region != "" && (len(region) > 32 || !regionRE.MatchString(region)) {
		return fmt.Errorf("%q is not an AWS region name such as us-west-2", region)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q is not valid: %s", namespace, strings.Join(errs, "; "))
	}
	return nil
}

func isNodeType(t v1.AccessEntryType) bool { return t != "" && t != v1.TypeStandard }

// validateSpec lists every rule of the CRD the spec breaks; nil when it is valid.
func validateSpec(s v1.AccessEntrySpec) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if n := utf8.RuneCountInString(s.ClusterName); n < 1 || n > 100 || !clusterNameRE.MatchString(s.ClusterName) {
		bad("clusterName %q is not a valid cluster name", s.ClusterName)
	}
	if s.Region != "" && (utf8.RuneCountInString(s.Region) > 32 || !regionRE.MatchString(s.Region)) {
		bad("region %q is not an AWS region name", s.Region)
	}
	switch ic := s.IdentityCenter; {
	case ic != nil && s.PrincipalARN != "":
		bad("principalARN and identityCenter are both set")
	case ic != nil && !permissionSetRE.MatchString(ic.PermissionSet):
		bad("identityCenter.permissionSet %q is not a permission set name", ic.PermissionSet)
	case ic != nil && ic.Account != "" && !accountIDRE.MatchString(ic.Account):
		bad("identityCenter.account %q is not a 12-digit account ID", ic.Account)
	case ic != nil && isNodeType(s.Type):
		bad("identityCenter names people: type %s is for node roles", s.Type)
	case ic != nil:
	case utf8.RuneCountInString(s.PrincipalARN) > 2048:
		bad("principalARN is longer than 2048 characters")
	case stsARNRE.MatchString(s.PrincipalARN):
		bad("principalARN %s is an STS session, not an IAM role or user", s.PrincipalARN)
	case linkedRoleRE.MatchString(s.PrincipalARN):
		bad("principalARN %s is a service-linked role", s.PrincipalARN)
	case !principalRE.MatchString(s.PrincipalARN):
		bad("principalARN %q is not an IAM role or user ARN", s.PrincipalARN)
	}
	switch s.Type {
	case "", v1.TypeStandard, v1.TypeEC2, v1.TypeEC2Linux, v1.TypeEC2Windows, v1.TypeFargateLinux, v1.TypeHybridLinux, v1.TypeHyperpodLinux:
	default:
		bad("type %q is not an access entry type", s.Type)
	}
	if isNodeType(s.Type) {
		if !nodeRoleRE.MatchString(s.PrincipalARN) {
			bad("type %s needs an IAM role as principal", s.Type)
		}
		if s.Username != "" {
			bad("type %s takes no username", s.Type)
		}
		if len(s.KubernetesGroups) > 0 {
			bad("type %s takes no kubernetesGroups", s.Type)
		}
		if len(s.AccessPolicies) > 0 && !s.Type.TakesPolicies() {
			bad("type %s takes no accessPolicies", s.Type)
		}
	}
	if s.Username != "" {
		if p := usernameProblem(s.Username); p != "" {
			bad("username %q: %s", s.Username, p)
		}
	}
	if len(s.KubernetesGroups) > 100 {
		bad("%d kubernetesGroups; at most 100 are allowed", len(s.KubernetesGroups))
	}
	seen := map[string]bool{}
	for _, g := range s.KubernetesGroups {
		switch n := utf8.RuneCountInString(string(g)); {
		case n < 1 || n > 256:
			bad("group %q must be 1 to 256 characters long", g)
		case strings.HasPrefix(string(g), "system:"):
			bad("group %q starts with system:", g)
		case seen[string(g)]:
			bad("group %q is listed twice", g)
		}
		seen[string(g)] = true
	}
	if len(s.AccessPolicies) > 50 {
		bad("%d accessPolicies; at most 50 are allowed", len(s.AccessPolicies))
	}
	seen = map[string]bool{}
	for _, p := range s.AccessPolicies {
		if utf8.RuneCountInString(p.PolicyARN) > 256 || !policyARNRE.MatchString(p.PolicyARN) {
			bad("policyARN %q is not an EKS access policy ARN", p.PolicyARN)
		}
		if seen[p.PolicyARN] {
			bad("policy %s is listed twice", p.PolicyARN)
		}
		seen[p.PolicyARN] = true
		ns := p.AccessScope.Namespaces
		switch p.AccessScope.Type {
		case v1.AccessScopeCluster:
			if len(ns) > 0 {
				bad("policy %s: a cluster scope takes no namespaces", p.PolicyARN)
			}
		case v1.AccessScopeNamespace:
			if len(ns) == 0 {
				bad("policy %s: a namespace scope needs namespaces", p.PolicyARN)
			}
		default:
			bad("policy %s: scope type %q is neither cluster nor namespace", p.PolicyARN, p.AccessScope.Type)
		}
		if len(ns) > 100 {
			bad("policy %s: %d namespaces; at most 100 are allowed", p.PolicyARN, len(ns))
		}
		seenNS := map[string]bool{}
		for _, n := range ns {
			if utf8.RuneCountInString(string(n)) > 63 || !namespaceRE.MatchString(string(n)) {
				bad("policy %s: %q is not a namespace name or prefix*", p.PolicyARN, n)
			}
			if seenNS[string(n)] {
				bad("policy %s: namespace %q is listed twice", p.PolicyARN, n)
			}
			seenNS[string(n)] = true
		}
	}
	if len(s.Tags) > v1.MaxSpecTags {
		bad("%d tags; at most %d are allowed (EKS allows %d and the operator keeps %d)", len(s.Tags), v1.MaxSpecTags, v1.MaxEntryTags, v1.ReservedTagCount)
	}
	for k, val := range s.Tags {
		lower := strings.ToLower(k)
		switch n := utf8.RuneCountInString(k); {
		case n < 1 || n > 128:
			bad("tag key %q must be 1 to 128 characters long", k)
		case strings.HasPrefix(lower, "aws:"):
			bad("tag key %q starts with aws:", k)
		case ownership.IsOwnershipKey(k):
			bad("tag key %q starts with %s", k, v1.TagPrefix)
		case !tagCharsRE.MatchString(k):
			bad("tag key %q holds characters other than letters, digits, spaces and _ . : / = + - @", k)
		}
		switch {
		case utf8.RuneCountInString(string(val)) > 256:
			bad("tag %q: the value is longer than 256 characters", k)
		case strings.HasPrefix(strings.ToLower(string(val)), "aws:"):
			bad("tag %q: the value starts with aws:", k)
		case !tagCharsRE.MatchString(string(val)):
			bad("tag %q: the value holds characters other than letters, digits, spaces and _ . : / = + - @", k)
		}
	}
	switch s.DeletionPolicy {
	case "", v1.DeletionPolicyDelete, v1.DeletionPolicyRetain:
	default:
		bad("deletionPolicy %q is neither Delete nor Retain", s.DeletionPolicy)
	}
	return errs
}
