package eksemulator

import (
	"maps"
	"slices"
)

// standardEntry finds a visible entry that may carry access policies.
func (s *Server) standardEntry(c *call) (*cluster, *entry, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, nil, aerr
	}
	e, aerr := cl.visibleEntry(c.principal, c.now)
	if aerr != nil {
		return nil, nil, aerr
	}
	if e.typ != TypeStandard {
		return nil, nil, invalidParameter(msgStandardOnly).withCluster(cl.key.name)
	}
	return cl, e, nil
}

type associateAccessPolicyRequest struct {
	PolicyARN   string           `json:"policyArn"`
	AccessScope *accessScopeJSON `json:"accessScope"`
}

// associateAccessPolicy adds a policy, or replaces the scope of one that is
// already associated (associatedAt is kept, modifiedAt moves).
func (s *Server) associateAccessPolicy(c *call) (any, *apiError) {
	cl, e, aerr := s.standardEntry(c)
	if aerr != nil {
		return nil, aerr
	}
	var req associateAccessPolicyRequest
	if aerr := decodeBody(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.PolicyARN == "" {
		return nil, invalidParameter("policyArn is required.")
	}
	if aerr := validatePolicyARN(req.PolicyARN); aerr != nil {
		return nil, aerr
	}
	scope, aerr := validateScope(req.AccessScope)
	if aerr != nil {
		return nil, aerr
	}
	a := e.policies[req.PolicyARN]
	if a == nil {
		a = &association{policyARN: req.PolicyARN, associatedAt: c.now}
		e.policies[req.PolicyARN] = a
	}
	a.scope, a.modifiedAt = scope, c.now
	return struct {
		ClusterName            string               `json:"clusterName"`
		PrincipalARN           string               `json:"principalArn"`
		AssociatedAccessPolicy associatedPolicyJSON `json:"associatedAccessPolicy"`
	}{cl.key.name, e.principal.ARN, a.wire()}, nil
}

func (s *Server) listAssociatedAccessPolicies(c *call) (any, *apiError) {
	cl, e, aerr := s.standardEntry(c)
	if aerr != nil {
		return nil, aerr
	}
	page, next, aerr := paginate(slices.Sorted(maps.Keys(e.policies)), c.query)
	if aerr != nil {
		return nil, aerr
	}
	out := []associatedPolicyJSON{}
	for _, p := range page {
		out = append(out, e.policies[p].wire())
	}
	return struct {
		ClusterName              string                 `json:"clusterName"`
		PrincipalARN             string                 `json:"principalArn"`
		AssociatedAccessPolicies []associatedPolicyJSON `json:"associatedAccessPolicies"`
		NextToken                *string                `json:"nextToken,omitempty"`
	}{cl.key.name, e.principal.ARN, out, next}, nil
}

func (s *Server) disassociateAccessPolicy(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	e, aerr := cl.visibleEntry(c.principal, c.now)
	if aerr != nil {
		return nil, aerr
	}
	if e.policies[c.policy] == nil {
		return nil, resourceNotFound("The specified policyArn %s is not associated with the access entry of %s.", c.policy, e.principal.ARN).withCluster(cl.key.name)
	}
	delete(e.policies, c.policy)
	return struct{}{}, nil
}

type accessPolicyJSON struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

func (s *Server) listAccessPolicies(c *call) (any, *apiError) {
	page, next, aerr := paginate(accessPolicyNames, c.query)
	if aerr != nil {
		return nil, aerr
	}
	out := []accessPolicyJSON{}
	for _, n := range page {
		out = append(out, accessPolicyJSON{Name: n, ARN: AccessPolicyARN(n)})
	}
	return struct {
		AccessPolicies []accessPolicyJSON `json:"accessPolicies"`
		NextToken      *string            `json:"nextToken,omitempty"`
	}{out, next}, nil
}
