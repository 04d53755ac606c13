package eksemulator

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Access entry types. HYPERPOD_LINUX is treated like the other node types.
const (
	TypeStandard     = "STANDARD"
	TypeEC2          = "EC2"
	TypeEC2Linux     = "EC2_LINUX"
	TypeEC2Windows   = "EC2_WINDOWS"
	TypeFargateLinux = "FARGATE_LINUX"
	TypeHybridLinux  = "HYBRID_LINUX"
	TypeHyperpod     = "HYPERPOD_LINUX"
)

var entryTypes = []string{TypeStandard, TypeEC2, TypeEC2Linux, TypeEC2Windows, TypeFargateLinux, TypeHybridLinux, TypeHyperpod}

// Messages EKS is known to return (EKS-API.md); tests match on them.
const (
	msgEntryInUse      = "The specified access entry resource is already in use on this cluster."
	msgEntryNotFound   = "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'."
	msgInvalidPrincip  = "The specified principalArn is invalid: invalid principal"
	msgStandardOnly    = `This operation can only be performed on Access Entries with a type of "STANDARD".`
	msgAuthModeNeedAPI = "The authentication mode of the cluster must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."
)

// principalRef is a parsed IAM role or user ARN.
type principalRef struct {
	ARN       string
	Partition string
	Account   string
	Kind      string // "role" or "user"
	Path      string // "/" or "/development/apps/"
	Name      string
}

var (
	iamARNRE       = regexp.MustCompile(`^arn:(` + partitionIDs + `):iam::([0-9]{12}):(role|user)/(.+)$`)
	assumedRoleRE  = regexp.MustCompile(`^arn:[a-z-]+:sts::[0-9]{12}:assumed-role/`)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamPathPartRE  = regexp.MustCompile(`^[\w+=,.@-]+$`)
	namespaceRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	namespaceWCRE  = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*\*$`)
	accessPolicyRE = regexp.MustCompile(`^arn:([a-z-]+):eks::aws:cluster-access-policy/(.+)$`)
)

// parsePrincipalARN accepts IAM role ARNs (with an optional path) and IAM user
// ARNs, and refuses what EKS refuses: STS sessions and service-linked roles.
func parsePrincipalARN(arn string) (principalRef, *apiError) {
	if assumedRoleRE.MatchString(arn) {
		return principalRef{}, invalidParameter("The specified principalArn is invalid: %s is an STS assumed-role session, not an IAM principal; use the ARN of the IAM role (arn:aws:iam::ACCOUNT:role/NAME).", arn)
	}
	m := iamARNRE.FindStringSubmatch(arn)
	if m == nil {
		return principalRef{}, invalidParameter("The specified principalArn is invalid: %q is not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME or arn:aws:iam::ACCOUNT:user/NAME).", arn)
	}
	parts := strings.Split(m[4], "/")
	name := parts[len(parts)-1]
	path := parts[:len(parts)-1]
	if !iamNameRE.MatchString(name) {
		return principalRef{}, invalidParameter("The specified principalArn is invalid: %q is not a valid IAM %s name.", name, m[3])
	}
	for _, p := range path {
		if !iamPathPartRE.MatchString(p) {
			return principalRef{}, invalidParameter("The specified principalArn is invalid: the path of %q is not a valid IAM path.", arn)
		}
	}
	if m[3] == "role" && len(path) > 0 && path[0] == "aws-service-role" {
		return principalRef{}, invalidParameter("The specified principalArn is invalid: %s is a service-linked role; access entries do not support service-linked roles.", arn)
	}
	p := "/"
	if len(path) > 0 {
		p = "/" + strings.Join(path, "/") + "/"
	}
	return principalRef{ARN: arn, Partition: m[1], Account: m[2], Kind: m[3], Path: p, Name: name}, nil
}

// normalizeType returns the canonical type; EKS accepts the mixed case the
// user guide writes (EC2_Linux).
func normalizeType(t *string) (string, *apiError) {
	if t == nil || *t == "" {
		return TypeStandard, nil
	}
	u := strings.ToUpper(*t)
	if !slices.Contains(entryTypes, u) {
		return "", invalidParameter("The type %q is not valid. Valid types: %s.", *t, strings.Join(entryTypes, ", "))
	}
	return u, nil
}

func isNodeType(t string) bool { return t != TypeStandard }

// defaultUsername is the username EKS fills in when none is given.
func defaultUsername(p principalRef, typ string) string {
	switch typ {
	case TypeEC2, TypeEC2Linux, TypeEC2Windows:
		return "system:node:{{EC2PrivateDNSName}}"
	case TypeFargateLinux, TypeHybridLinux, TypeHyperpod:
		return "system:node:{{SessionName}}"
	}
	if p.Kind == "user" {
		return p.ARN
	}
	// The path is dropped: session ARNs never carry it.
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/{{SessionName}}", p.Partition, p.Account, p.Name)
}

// defaultGroups are the groups EKS gives node types; STANDARD gets none.
// FARGATE_LINUX gets only system:nodes: the aws-auth mapping of a pod execution
// role also names system:bootstrappers and system:node-proxier, but no source
// found shows whether a FARGATE_LINUX access entry lists them.
func defaultGroups(typ string) []string {
	switch typ {
	case TypeStandard:
		return []string{}
	case TypeEC2Windows:
		return []string{"system:nodes", "eks:kube-proxy-windows"}
	}
	return []string{"system:nodes"}
}

var reservedUsernamePrefixes = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

func validateUsername(u string) *apiError {
	for _, p := range reservedUsernamePrefixes {
		if strings.HasPrefix(u, p) {
			return invalidParameter("The username must not begin with %s", p)
		}
	}
	// EKS documents the colon for {{SessionName}}; the emulator assumes the
	// same of {{SessionNameRaw}}, which the operator holds to it too.
	for _, s := range []string{"{{SessionName}}", "{{SessionNameRaw}}"} {
		if i := strings.Index(u, s); i >= 0 && !strings.Contains(u[:i], ":") {
			return invalidParameter("The username %q is invalid: a colon must appear before %s (for example my-user:%s).", u, s, s)
		}
	}
	return nil
}

// validateGroups checks Kubernetes group names and drops duplicates.
func validateGroups(groups []string) ([]string, *apiError) {
	out := []string{}
	for _, g := range groups {
		switch {
		case g == "":
			return nil, invalidParameter("Kubernetes group names cannot be empty.")
		case strings.HasPrefix(g, "system:"):
			return nil, invalidParameter("The Kubernetes group %q is invalid: group names cannot start with system:", g)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// Tag rules, from the TagMap documentation of the EKS API model (and the
// CloudFormation AWS::EKS Tag pages): keys of 1 to 128 and values of up to 256
// Unicode characters; "generally allowed" are letters, numbers, spaces and
// + - = . _ : / @ (the model itself has no pattern, so EKS may be laxer here);
// the aws: prefix, in any case, is reserved for AWS on keys and values, and
// tags with it do not count toward the 50 tags a resource may have.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

var tagCharsRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

const tagCharsRule = "letters, numbers, spaces and _ . : / = + - @"

func hasAWSPrefix(s string) bool { return strings.HasPrefix(strings.ToLower(s), "aws:") }

// userTagCount counts the tags that count toward the limit: not aws: ones.
func userTagCount(tags map[string]string) int {
	n := 0
	for k := range tags {
		if !hasAWSPrefix(k) {
			n++
		}
	}
	return n
}

// validateTags applies the tag rules to the tags of a request; mk builds the
// error the operation declares (InvalidParameterException on create,
// BadRequestException on TagResource). Keys are checked in order so that the
// message does not depend on map order.
func validateTags(tags map[string]string, mk func(format string, args ...any) *apiError) *apiError {
	if len(tags) > maxTags {
		return mk("Too many tags: %d given, at most %d are allowed per resource.", len(tags), maxTags)
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		switch n := utf8.RuneCountInString(k); {
		case n < 1 || n > maxTagKeyLen:
			return mk("Tag key %q is invalid: keys must be 1 to %d Unicode characters long; it has %d.", k, maxTagKeyLen, n)
		case !tagCharsRE.MatchString(k):
			return mk("Tag key %q is invalid: keys may contain only %s.", k, tagCharsRule)
		case hasAWSPrefix(k):
			return mk("Tag key %q is invalid: the aws: prefix is reserved for AWS use.", k)
		}
		switch n := utf8.RuneCountInString(v); {
		case n > maxTagValueLen:
			return mk("Tag value of key %q is invalid: values must be at most %d Unicode characters long; it has %d.", k, maxTagValueLen, n)
		case !tagCharsRE.MatchString(v):
			return mk("Tag value %q of key %q is invalid: values may contain only %s.", v, k, tagCharsRule)
		case hasAWSPrefix(v):
			return mk("Tag value %q of key %q is invalid: the aws: prefix is reserved for AWS use.", v, k)
		}
	}
	return nil
}

// validateScope checks an access scope and returns it normalised.
func validateScope(sc *accessScopeJSON) (accessScopeJSON, *apiError) {
	if sc == nil {
		return accessScopeJSON{}, invalidParameter("accessScope is required.")
	}
	switch sc.Type {
	case "cluster":
		if len(sc.Namespaces) > 0 {
			return accessScopeJSON{}, invalidParameter("Namespaces cannot be specified when the access scope type is cluster.")
		}
		return accessScopeJSON{Type: "cluster", Namespaces: []string{}}, nil
	case "namespace":
		if len(sc.Namespaces) == 0 {
			return accessScopeJSON{}, invalidParameter("At least one namespace must be specified when the access scope type is namespace.")
		}
		var ns []string
		for _, n := range sc.Namespaces {
			if len(n) > 63 || !(namespaceRE.MatchString(n) || namespaceWCRE.MatchString(n)) {
				return accessScopeJSON{}, invalidParameter("The namespace %q is invalid: use a Kubernetes namespace name, optionally ending in a * wildcard.", n)
			}
			if !slices.Contains(ns, n) {
				ns = append(ns, n)
			}
		}
		return accessScopeJSON{Type: "namespace", Namespaces: ns}, nil
	}
	return accessScopeJSON{}, invalidParameter("The access scope type %q is invalid: use cluster or namespace.", sc.Type)
}

// accessPolicyNames is the catalogue of AWS-managed access policies that
// ListAccessPolicies returns and AssociateAccessPolicy accepts, sorted as the
// CLI lists them. Each group says where its names were seen.
var accessPolicyNames = catalogue(
	// EKS user guide, "Review access policy permissions" (access-policy-reference):
	// one section per policy, and the abbreviated list-access-policies output
	// that opens the page (AmazonAIOpsAssistantPolicy, AmazonARCRegionSwitchScalingPolicy).
	// AmazonEKSClusterInsightsPolicy is documented there for service-linked roles
	// but was missing from the list output of the last group; it is listed here
	// too, so that it is accepted.
	[]string{
		"AmazonAIOpsAssistantPolicy",
		"AmazonARCRegionSwitchScalingPolicy",
		"AmazonEKSAdminPolicy",
		"AmazonEKSAdminViewPolicy",
		"AmazonEKSAutoNodePolicy",
		"AmazonEKSBlockStorageClusterPolicy",
		"AmazonEKSBlockStoragePolicy",
		"AmazonEKSClusterAdminPolicy",
		"AmazonEKSClusterInsightsPolicy",
		"AmazonEKSComputeClusterPolicy",
		"AmazonEKSComputePolicy",
		"AmazonEKSEditPolicy",
		"AmazonEKSHybridPolicy",
		"AmazonEKSLoadBalancingClusterPolicy",
		"AmazonEKSLoadBalancingPolicy",
		"AmazonEKSNetworkingClusterPolicy",
		"AmazonEKSNetworkingPolicy",
		"AmazonEKSSecretReaderPolicy",
		"AmazonEKSViewPolicy",
	},
	// EKS user guide, "Security considerations for EKS Capabilities": the
	// policies EKS associates with the ACK, Argo CD and kro capability roles.
	[]string{
		"AmazonEKSACKPolicy",
		"AmazonEKSArgoCDClusterPolicy",
		"AmazonEKSArgoCDPolicy",
		"AmazonEKSKROPolicy",
	},
	// EKS user guide, document history: AmazonEKSServiceRolePolicy may attach
	// the access policy AmazonEKSEventPolicy (2025).
	[]string{"AmazonEKSEventPolicy"},
	// SageMaker developer guide, "Setting up an Amazon EKS cluster in Studio":
	// EKS cluster-access policies (not IAM policies) for Studio execution roles.
	// Training and Inference were not yet in the list output below.
	[]string{
		"AmazonSagemakerHyperpodInferencePolicy",
		"AmazonSagemakerHyperpodSpacePolicy",
		"AmazonSagemakerHyperpodSpaceTemplatePolicy",
		"AmazonSagemakerHyperpodTrainingPolicy",
		"AmazonSagemakerHyperpodUserClusterPolicy",
	},
	// A full `aws eks list-access-policies` output published in April 2026 (an
	// EKS workshop study blog post): every name above except ClusterInsights,
	// Training and Inference, plus these, which no AWS page found describes.
	// AWSBackupFullAccessPolicyForBackup/-ForRestore, named only in third-party
	// notes and absent from that output, are left out.
	[]string{
		"AIDevOpsAgentAccessPolicy",
		"AmazonEKSPodIdentityPolicy",
		"AmazonEKSSecretAdminPolicy",
		"AmazonEMRJobPolicy",
		"AmazonSagemakerHyperpodClusterPolicy",
		"AmazonSagemakerHyperpodControllerPolicy",
		"AmazonSagemakerHyperpodSystemNamespacePolicy",
	},
)

// catalogue joins the groups into one sorted list; a name in two groups is a
// mistake in the table.
func catalogue(groups ...[]string) []string {
	var all []string
	for _, g := range groups {
		all = append(all, g...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			panic("eksemulator: access policy " + all[i] + " is listed twice")
		}
	}
	return all
}

// AccessPolicyNames returns the names of the access policies the emulator
// knows, sorted: what ListAccessPolicies lists.
func AccessPolicyNames() []string { return slices.Clone(accessPolicyNames) }

// AccessPolicyARN returns the ARN of an AWS-managed access policy in the aws
// partition.
func AccessPolicyARN(name string) string { return AccessPolicyARNIn("aws", name) }

// AccessPolicyARNIn returns the ARN of an access policy in a partition
// ("aws", "aws-cn", ...): arn:PARTITION:eks::aws:cluster-access-policy/NAME.
func AccessPolicyARNIn(partition, name string) string {
	return "arn:" + partition + ":eks::aws:cluster-access-policy/" + name
}

// ClusterAdminPolicyARN is the policy given to a cluster's creator (aws partition).
var ClusterAdminPolicyARN = AccessPolicyARN(policyClusterAdmin)

const (
	policyClusterAdmin = "AmazonEKSClusterAdminPolicy"
	policyAutoNode     = "AmazonEKSAutoNodePolicy"
)

// validatePolicyARN accepts the ARN of a catalogued policy in the cluster's
// partition and returns the policy's name.
func validatePolicyARN(arn, partition string) (string, *apiError) {
	m := accessPolicyRE.FindStringSubmatch(arn)
	switch {
	case m == nil || !slices.Contains(accessPolicyNames, m[2]):
		return "", invalidParameter("The specified policyArn %q is not a valid access policy. You can view the available access policies with 'list-access-policies'.", arn)
	case m[1] != partition:
		return "", invalidParameter("The specified policyArn %q is not a valid access policy in partition %s: use %s. You can view the available access policies with 'list-access-policies'.", arn, partition, AccessPolicyARNIn(partition, m[2]))
	}
	return m[2], nil
}
