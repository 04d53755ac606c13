package eksemulator

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

func (s *Server) describeCluster(c *call) (any, *apiError) {
	cl, aerr := s.clusterFor(c)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Cluster clusterJSON `json:"cluster"`
	}{clusterJSON{
		Name:            cl.key.name,
		ARN:             cl.arn,
		CreatedAt:       epoch(cl.createdAt),
		Version:         cl.version,
		PlatformVersion: cl.platformVersion,
		Endpoint:        "https://" + strings.ToUpper(cl.key.name) + ".gr7." + cl.key.region + ".eks." + partitionFor(cl.key.region).dnsSuffix,
		Status:          cl.status(c.now),
		AccessConfig: accessConfigJSON{
			AuthenticationMode:                      cl.mode,
			BootstrapClusterCreatorAdminPermissions: cl.creatorAdmin != "",
		},
		Tags: maps.Clone(cl.tags),
	}}, nil
}

func (s *Server) listClusters(c *call) (any, *apiError) {
	var names []string
	for k := range s.clusters {
		if k.account == c.caller.account && k.region == c.caller.region {
			names = append(names, k.name)
		}
	}
	slices.Sort(names)
	page, next, aerr := paginate(names, c.query, invalidParameter)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Clusters  []string `json:"clusters"`
		NextToken *string  `json:"nextToken,omitempty"`
	}{append([]string{}, page...), next}, nil
}

type updateResponse struct {
	Update updateJSON `json:"update"`
}

// updateClusterConfig starts an asynchronous authentication-mode change. Only
// accessConfig is emulated; other settings are refused rather than ignored so
// a test cannot believe they took effect.
func (s *Server) updateClusterConfig(c *call) (any, *apiError) {
	cl, aerr := s.clusterFor(c)
	if aerr != nil {
		return nil, aerr
	}
	var fields map[string]json.RawMessage
	if aerr := decodeBody(c, &fields); aerr != nil {
		return nil, aerr
	}
	for k := range fields {
		if k != "accessConfig" && k != "clientRequestToken" {
			return nil, invalidParameter("The EKS emulator supports only accessConfig in UpdateClusterConfig; %s is not supported.", k)
		}
	}
	var req struct {
		AccessConfig *struct {
			AuthenticationMode string `json:"authenticationMode"`
		} `json:"accessConfig"`
		ClientRequestToken string `json:"clientRequestToken"`
	}
	if aerr := decodeBody(c, &req); aerr != nil {
		return nil, aerr
	}
	if req.AccessConfig == nil || req.AccessConfig.AuthenticationMode == "" {
		return nil, invalidParameter("No changes requested: specify accessConfig.authenticationMode.").withCluster(cl.key.name)
	}
	to := req.AccessConfig.AuthenticationMode
	if modeRank(to) < 0 {
		return nil, invalidParameter("The authentication mode %q is not valid. Valid modes: CONFIG_MAP, API_AND_CONFIG_MAP, API.", to).withCluster(cl.key.name)
	}
	// A retry of the same request (same token) gets the same update back.
	if u := cl.updateTokens[req.ClientRequestToken]; req.ClientRequestToken != "" && u != nil && u.to == to {
		return updateResponse{u.wire()}, nil
	}
	if u := cl.inProgress(); u != nil {
		return nil, resourceInUse("Cluster %s has update %s in progress; wait until the cluster is ACTIVE before starting another update.", cl.key.name, u.id).withCluster(cl.key.name)
	}
	from := cl.mode
	switch {
	case to == from:
		return nil, invalidParameter("Cluster %s already has authentication mode %s.", cl.key.name, from).withCluster(cl.key.name)
	case modeRank(to) < modeRank(from):
		return nil, invalidParameter("Unsupported authentication mode update from %s to %s: the authentication mode can only move from CONFIG_MAP to API_AND_CONFIG_MAP or API, and from API_AND_CONFIG_MAP to API.", from, to).withCluster(cl.key.name)
	}
	u := &update{
		id:        s.newUUID(),
		from:      from,
		to:        to,
		createdAt: c.now,
		doneAt:    c.now.Add(s.cfg.UpdateDuration),
		status:    "InProgress",
	}
	cl.updates = append(cl.updates, u)
	if req.ClientRequestToken != "" {
		cl.updateTokens[req.ClientRequestToken] = u
	}
	return updateResponse{u.wire()}, nil
}

func (s *Server) describeUpdate(c *call) (any, *apiError) {
	cl, aerr := s.clusterFor(c)
	if aerr != nil {
		return nil, aerr
	}
	for _, u := range cl.updates {
		if u.id == c.updateID {
			return updateResponse{u.wire()}, nil
		}
	}
	return nil, resourceNotFound("No update found for ID: %s.", c.updateID).withCluster(cl.key.name)
}

func (s *Server) listUpdates(c *call) (any, *apiError) {
	cl, aerr := s.clusterFor(c)
	if aerr != nil {
		return nil, aerr
	}
	// Updates are listed in creation order, not sorted, so the token names the
	// last ID returned; updates are never removed.
	ids := []string{}
	for _, u := range cl.updates {
		ids = append(ids, u.id)
	}
	limit, after, aerr := pageParams(c.query, invalidParameter)
	if aerr != nil {
		return nil, aerr
	}
	start := 0
	if after != "" {
		start = slices.Index(ids, after) + 1
		if start == 0 {
			return nil, invalidParameter("The nextToken is not valid.")
		}
	}
	end := min(start+limit, len(ids))
	var next *string
	if end < len(ids) {
		t := encodeToken(ids[end-1])
		next = &t
	}
	return struct {
		UpdateIDs []string `json:"updateIds"`
		NextToken *string  `json:"nextToken,omitempty"`
	}{ids[start:end], next}, nil
}
