package eksemulator

import (
	"encoding/json"
	"maps"
	"slices"
)

// clusterFor finds the named cluster in the caller's account and region.
func (s *Server) clusterFor(c *call) (*cluster, *apiError) {
	cl := s.clusters[clusterKey{c.caller.account, c.caller.region, c.cluster}]
	if cl == nil {
		return nil, clusterNotFound(c.cluster)
	}
	return cl, nil
}

// accessCluster is clusterFor for access-entry operations, which EKS refuses
// while the cluster only authenticates through the aws-auth ConfigMap.
func (s *Server) accessCluster(c *call) (*cluster, *apiError) {
	cl, aerr := s.clusterFor(c)
	if aerr != nil {
		return nil, aerr
	}
	if cl.mode == ModeConfigMap {
		return nil, invalidRequest(msgAuthModeNeedAPI).withCluster(cl.key.name)
	}
	return cl, nil
}

type accessEntryResponse struct {
	AccessEntry accessEntryJSON `json:"accessEntry"`
}

type createAccessEntryRequest struct {
	PrincipalARN       string            `json:"principalArn"`
	KubernetesGroups   []string          `json:"kubernetesGroups"`
	Tags               map[string]string `json:"tags"`
	ClientRequestToken string            `json:"clientRequestToken"`
	Username           *string           `json:"username"`
	Type               *string           `json:"type"`
}

func (s *Server) createAccessEntry(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	var req createAccessEntryRequest
	if aerr := decodeBody(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.PrincipalARN == "" {
		return nil, invalidParameter("principalArn is required.")
	}
	p, aerr := parsePrincipalARN(req.PrincipalARN)
	if aerr != nil {
		return nil, aerr
	}
	if p.Partition != cl.partition() {
		return nil, invalidParameter("The specified principalArn is invalid: %s is in partition %s and the cluster in %s; IAM principals do not cross partitions.", p.ARN, p.Partition, cl.partition())
	}
	typ, aerr := normalizeType(req.Type)
	if aerr != nil {
		return nil, aerr
	}
	username := ""
	if req.Username != nil {
		username = *req.Username
	}
	groups := defaultGroups(typ)
	if isNodeType(typ) {
		if aerr := checkNodeEntry(cl, p, typ, len(req.KubernetesGroups) > 0, username != ""); aerr != nil {
			return nil, aerr
		}
	} else {
		if username != "" {
			if aerr := validateUsername(username); aerr != nil {
				return nil, aerr
			}
		}
		if groups, aerr = validateGroups(req.KubernetesGroups); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := validateTags(req.Tags, invalidParameter); aerr != nil {
		return nil, aerr
	}
	if !s.principalUsable(p.ARN, c.now) {
		return nil, invalidParameter(msgInvalidPrincip)
	}

	fp := fingerprint(req)
	if t := cl.createTokens[req.ClientRequestToken]; req.ClientRequestToken != "" && t != nil {
		if t.fingerprint != fp {
			return nil, invalidParameter("The clientRequestToken %q was already used for a different CreateAccessEntry request.", req.ClientRequestToken)
		}
		if e := cl.entries[p.ARN]; e != nil && e.arn == t.entryARN {
			return accessEntryResponse{e.wire(cl.key.name)}, nil
		}
		return accessEntryResponse{t.response}, nil
	}
	if _, pending := cl.deleted[p.ARN]; pending || cl.entries[p.ARN] != nil {
		return nil, resourceInUse(msgEntryInUse).withCluster(cl.key.name)
	}
	if cl.maxEntries > 0 && len(cl.entries) >= cl.maxEntries {
		return nil, resourceLimitExceeded("Cluster %s already has %d access entries, its limit.", cl.key.name, cl.maxEntries)
	}

	e := s.newEntry(cl, p, typ, c.now)
	if username != "" {
		e.username = username
	}
	e.groups = groups
	if req.Tags != nil {
		e.tags = maps.Clone(req.Tags)
	}
	e.visibleAt = c.now.Add(s.consistencyDelay())
	cl.entries[p.ARN] = e
	out := e.wire(cl.key.name)
	if req.ClientRequestToken != "" {
		cl.createTokens[req.ClientRequestToken] = &createToken{fingerprint: fp, entryARN: e.arn, response: out}
	}
	return accessEntryResponse{out}, nil
}

// checkNodeEntry applies the rules for node types: an IAM role of the
// cluster's own account, and nothing EKS sets itself.
func checkNodeEntry(cl *cluster, p principalRef, typ string, hasGroups, hasUsername bool) *apiError {
	switch {
	case p.Kind != "role":
		return invalidParameter("Access entries of type %s need an IAM role as principal; %s is an IAM user.", typ, p.ARN)
	case p.Account != cl.key.account:
		return invalidParameter("The principal of an access entry of type %s must be an IAM role in the cluster's account %s; %s is in account %s.", typ, cl.key.account, p.ARN, p.Account)
	case hasGroups:
		return invalidParameter("kubernetesGroups cannot be specified for access entries of type %s.", typ)
	case hasUsername:
		return invalidParameter("username cannot be specified for access entries of type %s.", typ)
	}
	return nil
}

// fingerprint identifies a create request apart from its token.
func fingerprint(req createAccessEntryRequest) string {
	req.ClientRequestToken = ""
	b, _ := json.Marshal(req)
	return string(b)
}

func (s *Server) listAccessEntries(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	filter := c.query.Get("associatedPolicyArn")
	if filter != "" {
		if _, aerr := validatePolicyARN(filter, cl.partition()); aerr != nil {
			return nil, aerr
		}
	}
	var keys []string
	for _, p := range slices.Sorted(maps.Keys(cl.entries)) {
		e := cl.entries[p]
		if !e.visible(c.now) {
			continue
		}
		if _, ok := e.policies[filter]; filter != "" && !ok {
			continue
		}
		keys = append(keys, p)
	}
	page, next, aerr := paginate(keys, c.query, invalidParameter)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		AccessEntries []string `json:"accessEntries"`
		NextToken     *string  `json:"nextToken,omitempty"`
	}{append([]string{}, page...), next}, nil
}

func (s *Server) describeAccessEntry(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	e, aerr := cl.visibleEntry(c.principal, c.now)
	if aerr != nil {
		return nil, aerr
	}
	return accessEntryResponse{e.wire(cl.key.name)}, nil
}

type updateAccessEntryRequest struct {
	KubernetesGroups   *[]string `json:"kubernetesGroups"`
	Username           *string   `json:"username"`
	ClientRequestToken string    `json:"clientRequestToken"`
}

// updateAccessEntry replaces username and groups; one left out of the request
// goes back to EKS's default, as on EKS.
func (s *Server) updateAccessEntry(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	e, aerr := cl.visibleEntry(c.principal, c.now)
	if aerr != nil {
		return nil, aerr
	}
	var req updateAccessEntryRequest
	if aerr := decodeBody(c, &req); aerr != nil {
		return nil, aerr
	}
	hasGroups := req.KubernetesGroups != nil && len(*req.KubernetesGroups) > 0
	hasUsername := req.Username != nil && *req.Username != ""
	username, groups := defaultUsername(e.principal, e.typ), defaultGroups(e.typ)
	if isNodeType(e.typ) {
		if aerr := checkNodeEntry(cl, e.principal, e.typ, hasGroups, hasUsername); aerr != nil {
			return nil, aerr
		}
	} else {
		if hasUsername {
			if aerr := validateUsername(*req.Username); aerr != nil {
				return nil, aerr
			}
			username = *req.Username
		}
		if req.KubernetesGroups != nil {
			if groups, aerr = validateGroups(*req.KubernetesGroups); aerr != nil {
				return nil, aerr
			}
		}
	}
	e.username, e.groups, e.modifiedAt = username, groups, c.now
	return accessEntryResponse{e.wire(cl.key.name)}, nil
}

// deleteAccessEntry removes the entry and its associations at once for reads;
// a create of the same principal stays refused until the delete propagates.
func (s *Server) deleteAccessEntry(c *call) (any, *apiError) {
	cl, aerr := s.accessCluster(c)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := cl.visibleEntry(c.principal, c.now); aerr != nil {
		return nil, aerr
	}
	delete(cl.entries, c.principal)
	if d := s.consistencyDelay(); d > 0 {
		cl.deleted[c.principal] = c.now.Add(d)
	}
	return struct{}{}, nil
}
