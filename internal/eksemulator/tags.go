package eksemulator

import (
	"maps"
	"regexp"
	"time"
)

var (
	entryARNRE   = regexp.MustCompile(`^arn:([a-z-]+):eks:([a-z0-9-]+):([0-9]{12}):access-entry/([^/]+)/(role|user)/[0-9]{12}/[^/]+/[0-9a-f-]+$`)
	clusterARNRE = regexp.MustCompile(`^arn:([a-z-]+):eks:([a-z0-9-]+):([0-9]{12}):cluster/([^/]+)$`)
)

// taggable resolves a resource ARN to the tag map of an access entry or a
// cluster. The tagging operations declare BadRequestException and
// NotFoundException, not the access-entry errors.
func (s *Server) taggable(c *call) (map[string]string, *apiError) {
	arn := c.resource
	var partition, region, account, name string
	isEntry := false
	if m := entryARNRE.FindStringSubmatch(arn); m != nil {
		partition, region, account, name, isEntry = m[1], m[2], m[3], m[4], true
	} else if m := clusterARNRE.FindStringSubmatch(arn); m != nil {
		partition, region, account, name = m[1], m[2], m[3], m[4]
	} else {
		return nil, badRequest("The resource ARN %q is not a valid EKS access entry or cluster ARN.", arn)
	}
	// A resource in another account, region or partition is not reachable from
	// this endpoint.
	cl := s.clusters[clusterKey{account, region, name}]
	if cl == nil || account != c.caller.account || region != c.caller.region || partition != PartitionOf(region) {
		return nil, notFound("The resource %s could not be found.", arn)
	}
	if !isEntry {
		return cl.tags, nil
	}
	for _, e := range cl.entries {
		if e.arn == arn && e.visible(c.now) {
			return e.tags, nil
		}
	}
	return nil, notFound("The resource %s could not be found.", arn)
}

func (s *Server) tagResource(c *call) (any, *apiError) {
	tags, aerr := s.taggable(c)
	if aerr != nil {
		return nil, aerr
	}
	var req struct {
		Tags map[string]string `json:"tags"`
	}
	if aerr := decodeBody(c, &req); aerr != nil {
		return nil, aerr
	}
	if len(req.Tags) == 0 {
		return nil, badRequest("tags must contain at least one tag.")
	}
	if aerr := validateTags(req.Tags, badRequest); aerr != nil {
		return nil, aerr
	}
	merged := maps.Clone(tags)
	maps.Copy(merged, req.Tags)
	// Tags AWS put there (aws:...) do not count toward the limit.
	if n := userTagCount(merged); n > maxTags {
		return nil, badRequest("Too many tags: the resource would have %d tags, at most %d are allowed (tags with the aws: prefix do not count).", n, maxTags)
	}
	maps.Copy(tags, req.Tags)
	return struct{}{}, nil
}

func (s *Server) untagResource(c *call) (any, *apiError) {
	tags, aerr := s.taggable(c)
	if aerr != nil {
		return nil, aerr
	}
	keys := c.query["tagKeys"]
	if len(keys) == 0 {
		return nil, badRequest("tagKeys must contain at least one tag key.")
	}
	for _, k := range keys {
		if hasAWSPrefix(k) {
			return nil, badRequest("Tag key %q is invalid: the aws: prefix is reserved for AWS use; such tags cannot be removed.", k)
		}
	}
	for _, k := range keys {
		delete(tags, k)
	}
	return struct{}{}, nil
}

func (s *Server) listTagsForResource(c *call) (any, *apiError) {
	tags, aerr := s.taggable(c)
	if aerr != nil {
		return nil, aerr
	}
	return struct {
		Tags map[string]string `json:"tags"`
	}{maps.Clone(tags)}, nil
}

// SetAWSTag puts a tag with the reserved aws: prefix on an access entry, as
// AWS services do (CloudFormation tags what it creates with aws:cloudformation:
// keys); the EKS API refuses such keys from callers. It reports false when the
// key lacks the prefix or there is no such entry (visible or not).
func (s *Server) SetAWSTag(account, region, clusterName, principalARN, key, value string) bool {
	if !hasAWSPrefix(key) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[clusterKey{account, region, clusterName}]
	if c == nil {
		return false
	}
	c.settle(s, time.Now())
	e := c.entries[principalARN]
	if e == nil {
		return false
	}
	e.tags[key] = value
	return true
}
