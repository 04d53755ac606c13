package eksemulator

import (
	"fmt"
	"slices"
	"time"
)

// madeEntry is an access entry EKS makes itself, not through CreateAccessEntry:
// for the cluster's creator, node groups, Fargate profiles, Auto Mode and
// capabilities. Such entries carry no tags.
type madeEntry struct {
	principal principalRef
	typ       string
	username  string // empty: EKS's default for the type
	policies  []madePolicy
	by        string // the configuration field it comes from, for messages
	nodeGroup bool   // node groups of one OS share their node role's entry
}

type madePolicy struct {
	name  string
	scope accessScopeJSON
}

func clusterScope() accessScopeJSON { return accessScopeJSON{Type: "cluster", Namespaces: []string{}} }

// autoModeClusterPolicies are associated with the cluster role when Auto Mode
// is on: the EKS user guide ("Review access policy permissions") says for each
// that EKS creates an access entry with it for the cluster IAM role when Auto
// Mode is enabled. The scopes are not documented; cluster scope is assumed.
var autoModeClusterPolicies = []string{
	"AmazonEKSBlockStorageClusterPolicy",
	"AmazonEKSBlockStoragePolicy",
	"AmazonEKSComputeClusterPolicy",
	"AmazonEKSComputePolicy",
	"AmazonEKSLoadBalancingClusterPolicy",
	"AmazonEKSLoadBalancingPolicy",
	"AmazonEKSNetworkingClusterPolicy",
	"AmazonEKSNetworkingPolicy",
}

const defaultArgoCDNamespace = "argocd"

// madeEntriesFor lists the entries EKS makes for a cluster (with defaults
// already applied), in the order it makes them, and refuses a configuration
// EKS could not have: roles that are malformed or outside the cluster's
// account or partition, one principal for two purposes.
func madeEntriesFor(c ClusterConfig) ([]madeEntry, error) {
	partition := PartitionOf(c.Region)
	var out []madeEntry
	// add appends the entry of a principal; anyAccount allows a user or a role
	// of another account (the creator). It returns nil, nil for a node role
	// that another node group of the same OS already uses.
	add := func(field, arn, typ string, anyAccount bool) (*madeEntry, error) {
		nodeGroup := typ == TypeEC2Linux || typ == TypeEC2Windows
		p, aerr := parsePrincipalARN(arn)
		switch {
		case aerr != nil:
			return nil, fmt.Errorf("%s: %s", field, aerr.message)
		case p.Partition != partition:
			return nil, fmt.Errorf("%s: %s is in partition %s, the cluster (region %s) in %s", field, arn, p.Partition, c.Region, partition)
		case !anyAccount && p.Kind != "role":
			return nil, fmt.Errorf("%s: %s is not an IAM role", field, arn)
		case !anyAccount && p.Account != c.Account:
			return nil, fmt.Errorf("%s: %s is not in the cluster's account %s", field, arn, c.Account)
		}
		for i := range out {
			if out[i].principal.ARN != arn {
				continue
			}
			if nodeGroup && out[i].nodeGroup && out[i].typ == typ {
				return nil, nil
			}
			return nil, fmt.Errorf("%s: %s already has the access entry of %s; EKS keeps one entry per principal", field, arn, out[i].by)
		}
		out = append(out, madeEntry{principal: p, typ: typ, by: field, nodeGroup: nodeGroup})
		return &out[len(out)-1], nil
	}
	required := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}

	if c.CreatorAdmin != "" {
		// The creator may be any principal of the partition, a user or a role.
		e, err := add("creatorAdmin", c.CreatorAdmin, TypeStandard, true)
		if err != nil {
			return nil, err
		}
		e.policies = []madePolicy{{policyClusterAdmin, clusterScope()}}
	}
	for i, ng := range c.NodeGroups {
		field := fmt.Sprintf("nodeGroups[%d]", i)
		if err := required(field+".name", ng.Name); err != nil {
			return nil, err
		}
		typ := TypeEC2Linux
		if ng.Windows {
			typ = TypeEC2Windows
		}
		if _, err := add(field+".nodeRoleArn", ng.NodeRoleARN, typ, false); err != nil {
			return nil, err
		}
	}
	for i, fp := range c.FargateProfiles {
		field := fmt.Sprintf("fargateProfiles[%d]", i)
		if err := required(field+".name", fp.Name); err != nil {
			return nil, err
		}
		if _, err := add(field+".podExecutionRoleArn", fp.PodExecutionRoleARN, TypeFargateLinux, false); err != nil {
			return nil, err
		}
	}
	if am := c.AutoMode; am != nil {
		if err := required("autoMode.clusterRoleArn", am.ClusterRoleARN); err != nil {
			return nil, err
		}
		// The username of the cluster role's entry is not documented: EKS's
		// STANDARD default is assumed.
		e, err := add("autoMode.clusterRoleArn", am.ClusterRoleARN, TypeStandard, false)
		if err != nil {
			return nil, err
		}
		for _, n := range autoModeClusterPolicies {
			e.policies = append(e.policies, madePolicy{n, clusterScope()})
		}
		if am.NodeRoleARN != "" {
			// EKS user guide, "Create a Node Class for Amazon EKS": EKS makes the
			// node role's entry when the cluster is created, with
			// AmazonEKSAutoNodePolicy (cluster scope in every published example).
			e, err := add("autoMode.nodeRoleArn", am.NodeRoleARN, TypeEC2, false)
			if err != nil {
				return nil, err
			}
			e.policies = []madePolicy{{policyAutoNode, clusterScope()}}
		}
	}
	for i, cp := range c.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		if err := required(field+".name", cp.Name); err != nil {
			return nil, err
		}
		if !slices.Contains([]string{CapabilityACK, CapabilityArgoCD, CapabilityKRO}, cp.Type) {
			return nil, fmt.Errorf("%s.type %q must be one of ACK, ARGOCD, KRO", field, cp.Type)
		}
		if cp.Namespace != "" && cp.Type != CapabilityArgoCD {
			return nil, fmt.Errorf("%s.namespace is for ARGOCD capabilities only", field)
		}
		if cp.Namespace != "" && (len(cp.Namespace) > 63 || !namespaceRE.MatchString(cp.Namespace)) {
			return nil, fmt.Errorf("%s.namespace %q is not a Kubernetes namespace name", field, cp.Namespace)
		}
		e, err := add(field+".roleArn", cp.RoleARN, TypeStandard, false)
		if err != nil {
			return nil, err
		}
		// EKS user guide, "Security considerations for EKS Capabilities": the
		// policies and scopes below, and for kro the username, whose session
		// name EKS sets to KRO. For ACK and Argo CD the username is not
		// documented: EKS's STANDARD default is assumed.
		switch cp.Type {
		case CapabilityACK:
			e.policies = []madePolicy{{"AmazonEKSACKPolicy", clusterScope()}}
		case CapabilityKRO:
			e.policies = []madePolicy{{"AmazonEKSKROPolicy", clusterScope()}}
			e.username = fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/KRO", partition, e.principal.Account, e.principal.Name)
		case CapabilityArgoCD:
			ns := cp.Namespace
			if ns == "" {
				ns = defaultArgoCDNamespace
			}
			e.policies = []madePolicy{
				{"AmazonEKSArgoCDClusterPolicy", clusterScope()},
				{"AmazonEKSArgoCDPolicy", accessScopeJSON{Type: "namespace", Namespaces: []string{ns}}},
			}
		}
	}
	return out, nil
}

// addMadeEntries creates the entries EKS makes itself, visible at once; a
// principal that already has an entry keeps it. Caller holds s.mu.
func (s *Server) addMadeEntries(c *cluster, at time.Time) {
	for _, m := range c.made {
		if c.entries[m.principal.ARN] != nil {
			continue
		}
		e := s.newEntry(c, m.principal, m.typ, at)
		if m.username != "" {
			e.username = m.username
		}
		for _, p := range m.policies {
			arn := AccessPolicyARNIn(c.partition(), p.name)
			e.policies[arn] = &association{policyARN: arn, scope: p.scope, associatedAt: at, modifiedAt: at}
		}
		c.entries[m.principal.ARN] = e
	}
}
