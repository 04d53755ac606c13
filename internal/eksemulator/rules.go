package eksemulator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	iamARNRE       = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::([0-9]{12}):(role|user)/(.+)$`)
	assumedRoleRE  = regexp.MustCompile(`^arn:[a-z-]+:sts::[0-9]{12}:assumed-role/`)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamPathPartRE  = regexp.MustCompile(`^[\w+=,.@-]+$`)
	namespaceRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	namespaceWCRE  = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*\*$`)
	accessPolicyRE = regexp.MustCompile(`^arn:[a-z-]+:eks::aws:cluster-access-policy/(.+)$`)
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
	if i := strings.Index(u, "{{SessionName}}"); i >= 0 && !strings.Contains(u[:i], ":") {
		return invalidParameter("The username %q is invalid: a colon must appear before {{SessionName}} (for example my-user:{{SessionName}}).", u)
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

// validateTags applies EKS's tag limits; mk builds the error the operation
// declares (InvalidParameterException on create, BadRequestException on tag calls).
func validateTags(tags map[string]string, mk func(format string, args ...any) *apiError) *apiError {
	if len(tags) > maxTags {
		return mk("Too many tags: %d given, at most %d are allowed per resource.", len(tags), maxTags)
	}
	for k, v := range tags {
		switch {
		case len(k) < 1 || len(k) > 128:
			return mk("Tag key %q is invalid: keys must be 1 to 128 characters long.", k)
		case len(v) > 256:
			return mk("Tag value for key %q is invalid: values must be at most 256 characters long.", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return mk("Tag key %q is invalid: the aws: prefix is reserved for AWS use.", k)
		}
	}
	return nil
}

const maxTags = 50

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

// accessPolicyNames is the AWS-managed list ListAccessPolicies returns, sorted.
var accessPolicyNames = []string{
	"AmazonAIOpsAssistantPolicy",
	"AmazonEKSAdminPolicy",
	"AmazonEKSAdminViewPolicy",
	"AmazonEKSAutoNodePolicy",
	"AmazonEKSBlockStoragePolicy",
	"AmazonEKSClusterAdminPolicy",
	"AmazonEKSClusterInsightsPolicy",
	"AmazonEKSComputePolicy",
	"AmazonEKSEditPolicy",
	"AmazonEKSHybridPolicy",
	"AmazonEKSLoadBalancingPolicy",
	"AmazonEKSNetworkingPolicy",
	"AmazonEKSSecretReaderPolicy",
	"AmazonEKSViewPolicy",
	"AmazonEMRJobPolicy",
	"AmazonSagemakerHyperpodClusterPolicy",
	"AmazonSagemakerHyperpodControllerPolicy",
	"AmazonSagemakerHyperpodSystemNamespacePolicy",
}

// AccessPolicyARN returns the ARN of an AWS-managed access policy.
func AccessPolicyARN(name string) string {
	return "arn:aws:eks::aws:cluster-access-policy/" + name
}

// ClusterAdminPolicyARN is the policy given to a cluster's creator.
var ClusterAdminPolicyARN = AccessPolicyARN("AmazonEKSClusterAdminPolicy")

func validatePolicyARN(arn string) *apiError {
	m := accessPolicyRE.FindStringSubmatch(arn)
	if m == nil || !slices.Contains(accessPolicyNames, m[1]) {
		return invalidParameter("The specified policyArn %q is not a valid access policy. You can view the available access policies with 'list-access-policies'.", arn)
	}
	return nil
}
