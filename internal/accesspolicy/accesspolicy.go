// Package accesspolicy knows what each AWS-managed EKS access policy reaches, and
// so which ones are admin-equivalent: a policy is admin-equivalent when its
// holder can read or write Secrets (a service account's token in a Secret is
// that account's access), write RBAC (bind itself any role), impersonate, or
// create pods (which mount any Secret and run as any service account of their
// namespace), or when it grants every verb on every resource. The facts come from AWS's
// published permissions of each policy (Source names the page); a policy AWS
// publishes nothing for is reported as not known, except the two whose name or
// documented use says they reach Secrets (AmazonEKSSecretAdminPolicy,
// AmazonEMRJobPolicy).
package accesspolicy

import (
	"slices"

	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// Reach is what a policy lets its holder do that matters for admin-equivalence.
type Reach struct {
	// Everything: every verb on every resource.
	Everything bool
	// Secrets: "read", "write" (which includes read), or "" for none.
	Secrets string
	// RBAC: writes Roles, RoleBindings, ClusterRoles or ClusterRoleBindings, or
	// may escalate, bind or impersonate.
	RBAC bool
	// Workloads: creates pods (or what runs them), which mount any Secret and run
	// as any service account of their namespace.
	Workloads bool
	// Undocumented: AWS publishes no permissions for the policy; the other
	// fields are then a judgement, which Source explains.
	Undocumented bool
	// Source is where the facts come from.
	Source string
}

// Admin reports whether the reach makes a policy admin-equivalent.
func (r Reach) Admin() bool { return r.Everything || r.Secrets != "" || r.RBAC || r.Workloads }

// Why says what makes a policy admin-equivalent, "" when nothing does.
func (r Reach) Why() string {
	switch {
	case r.Undocumented && r.Admin():
		return r.reach() + ", judged from " + r.Source
	case r.Undocumented:
		return "not known: AWS publishes no permissions for it"
	}
	return r.reach()
}

func (r Reach) reach() string {
	switch {
	case r.Everything:
		return "every verb on every resource"
	case r.RBAC && r.Secrets != "":
		return "writes RBAC or impersonates, and " + r.Secrets + "s Secrets"
	case r.RBAC:
		return "writes RBAC or impersonates"
	case r.Secrets != "":
		return r.Secrets + "s Secrets"
	case r.Workloads:
		return "creates pods, which reach every Secret and service account of their namespace"
	}
	return ""
}

const (
	guide        = "EKS user guide, Review access policy permissions"
	capabilities = "EKS user guide, Review access policy permissions and EKS Capabilities security considerations"
	hyperpod     = "SageMaker developer guide, Setting up an Amazon EKS cluster in Studio"
	emr          = "EMR on EKS development guide, Setting up cluster access"
)

// catalogue is every AWS-managed access policy and what AWS publishes it to
// reach. A policy AWS publishes no permissions for is Undocumented; two of those
// are taken as admin-equivalent all the same (see their entries).
var catalogue = map[string]Reach{
	"AmazonEKSClusterAdminPolicy": {Everything: true, Source: guide},
	// Roles and RoleBindings written, Secrets written, service accounts impersonated.
	"AmazonEKSAdminPolicy": {Secrets: "write", RBAC: true, Source: guide},
	// Secrets written, service accounts impersonated.
	"AmazonEKSEditPolicy": {Secrets: "write", RBAC: true, Source: guide},
	// get, list and watch on every resource, Secrets included.
	"AmazonEKSAdminViewPolicy":    {Secrets: "read", Source: guide},
	"AmazonEKSSecretReaderPolicy": {Secrets: "read", Source: guide},
	"AmazonEKSViewPolicy":         {Source: guide},
	// AWS publishes no permissions for it; its name says it administers Secrets.
	"AmazonEKSSecretAdminPolicy": {Secrets: "write", Undocumented: true, Source: "its name (AWS publishes no permissions for it)"},
	// EKS Capabilities: Argo CD's namespaced policy holds every verb on Secrets.
	"AmazonEKSArgoCDPolicy":        {Secrets: "write", Source: capabilities},
	"AmazonEKSArgoCDClusterPolicy": {Source: capabilities},
	"AmazonEKSACKPolicy":           {Source: capabilities},
	"AmazonEKSKROPolicy":           {Source: capabilities},
	// AWS publishes no rules for it; the access EMR on EKS documents setting up by
	// hand for the same job runs writes Secrets, Roles and RoleBindings.
	"AmazonEMRJobPolicy": {Secrets: "write", RBAC: true, Undocumented: true, Source: emr},
	// Components' policies: their published rules or descriptions name neither
	// Secrets nor RBAC.
	"AmazonEKSAutoNodePolicy":             {Source: guide},
	"AmazonEKSBlockStorageClusterPolicy":  {Source: guide},
	"AmazonEKSBlockStoragePolicy":         {Source: guide},
	"AmazonEKSComputeClusterPolicy":       {Source: guide},
	"AmazonEKSComputePolicy":              {Source: guide},
	"AmazonEKSLoadBalancingClusterPolicy": {Source: guide},
	"AmazonEKSLoadBalancingPolicy":        {Source: guide},
	"AmazonEKSNetworkingClusterPolicy":    {Source: guide},
	"AmazonEKSNetworkingPolicy":           {Source: guide},
	"AmazonEKSHybridPolicy":               {Source: guide},
	"AmazonEKSClusterInsightsPolicy":      {Source: guide},
	"AmazonAIOpsAssistantPolicy":          {Source: "CloudWatch investigations user guide, Integration with Amazon EKS"},
	"AmazonARCRegionSwitchScalingPolicy":  {Source: "ARC Region switch user guide, Amazon EKS resource scaling execution block"},
	// Full access to pods (and, for training, jobs): they run as any service
	// account of their namespace.
	"AmazonSagemakerHyperpodInferencePolicy":     {Workloads: true, Source: hyperpod},
	"AmazonSagemakerHyperpodSpacePolicy":         {Source: hyperpod},
	"AmazonSagemakerHyperpodSpaceTemplatePolicy": {Source: hyperpod},
	"AmazonSagemakerHyperpodTrainingPolicy":      {Workloads: true, Source: hyperpod},
	"AmazonSagemakerHyperpodUserClusterPolicy":   {Source: hyperpod},
	// Listed by EKS, with no permissions published anywhere found.
	"AmazonEKSEventPolicy":                         {Undocumented: true},
	"AmazonEKSPodIdentityPolicy":                   {Undocumented: true},
	"AIDevOpsAgentAccessPolicy":                    {Undocumented: true},
	"AmazonSagemakerHyperpodClusterPolicy":         {Undocumented: true},
	"AmazonSagemakerHyperpodControllerPolicy":      {Undocumented: true},
	"AmazonSagemakerHyperpodSystemNamespacePolicy": {Undocumented: true},
}

// Lookup is what a policy (by name) reaches; false for a policy the catalogue
// does not hold (a new one): the report then says it is not known.
func Lookup(name string) (Reach, bool) {
	r, ok := catalogue[name]
	return r, ok
}

// ReachOf says whether a policy (by name) is admin-equivalent, and why (or that
// it is not known).
func ReachOf(name string) (bool, string) {
	r, ok := catalogue[name]
	if !ok {
		return false, "not known: a policy this version of the report does not know"
	}
	return r.Admin(), r.Why()
}

// AdminEquivalent are the names of the admin-equivalent policies, sorted.
func AdminEquivalent() []string {
	var out []string
	for name, r := range catalogue {
		if r.Admin() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// IsAdminEquivalentARN reports whether a policy ARN names an admin-equivalent policy.
func IsAdminEquivalentARN(arn string) bool {
	p, ok := awsarn.ParsePolicy(arn)
	return ok && catalogue[p.Name].Admin()
}
