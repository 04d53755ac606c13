package eksemulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// declaredErrors are the error codes the EKS model declares per operation, as
// aws-sdk-go-v2 service/eks v1.80.0 deserializers.go switches on them (the
// schema-based v1.105 no longer lists them per operation).
var declaredErrors = map[string][]string{
	"CreateAccessEntry":            {"InvalidParameterException", "InvalidRequestException", "ResourceInUseException", "ResourceLimitExceededException", "ResourceNotFoundException", "ServerException"},
	"DescribeAccessEntry":          {"InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"UpdateAccessEntry":            {"InvalidParameterException", "InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"DeleteAccessEntry":            {"InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"ListAccessEntries":            {"InvalidParameterException", "InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"AssociateAccessPolicy":        {"InvalidParameterException", "InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"ListAssociatedAccessPolicies": {"InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"DisassociateAccessPolicy":     {"InvalidRequestException", "ResourceNotFoundException", "ServerException"},
	"ListAccessPolicies":           {"ServerException"},
	"DescribeCluster":              {"ClientException", "ResourceNotFoundException", "ServerException", "ServiceUnavailableException"},
	"ListClusters":                 {"ClientException", "InvalidParameterException", "ServerException", "ServiceUnavailableException"},
	"UpdateClusterConfig":          {"ClientException", "InvalidParameterException", "InvalidRequestException", "ResourceInUseException", "ResourceNotFoundException", "ServerException", "ThrottlingException"},
	"DescribeUpdate":               {"ClientException", "InvalidParameterException", "ResourceNotFoundException", "ServerException"},
	"ListUpdates":                  {"ClientException", "InvalidParameterException", "ResourceNotFoundException", "ServerException"},
	"TagResource":                  {"BadRequestException", "NotFoundException"},
	"UntagResource":                {"BadRequestException", "NotFoundException"},
	"ListTagsForResource":          {"BadRequestException", "NotFoundException"},
}

// undeclaredErrors are the codes the emulator returns although the model does
// not declare them, each for the messages listed only, with the reason (also
// given where it is returned).
var undeclaredErrors = map[string]map[string]undeclared{
	"ListAssociatedAccessPolicies": {"InvalidParameterException": {
		why:      "EKS answers it for EC2_LINUX/EC2_WINDOWS entries (issue threads, EKS-API.md); policies.go",
		messages: []string{msgStandardOnly},
	}},
	"ListAccessPolicies": {"InvalidParameterException": {
		why:      "no client error is declared, yet a bad maxResults must be refused; policies.go",
		messages: []string{"maxResults must be an integer between 1 and 100", "The nextToken"},
	}},
}

type undeclared struct {
	why      string
	messages []string
}

// anyOperationErrors can come from any call: throttling and expired
// credentials from AWS's front end (EKS-API.md), ServerException and
// ServiceUnavailableException from the emulator's injected faults.
var anyOperationErrors = []string{"ThrottlingException", "ExpiredTokenException", "ServerException", "ServiceUnavailableException"}

type rawRequest struct {
	op, method, path, query, body string
}

// walkRequests builds, for every operation, requests that provoke each error
// the emulator can give it: absent and CONFIG_MAP clusters, entries of every
// type and none, malformed bodies, bad page parameters, policy ARNs of other
// partitions, reserved tags. Deletes come last so that they do not starve the
// others of entries.
func walkRequests(entryARNs map[string]string) []rawRequest {
	esc := url.PathEscape
	clusters := []string{"demo", "legacy", "nope"}
	principals := []string{myRole, roleARN(testAccount, "ng-linux"), roleARN(testAccount, "ng-auto"), roleARN(testAccount, "fargate"), roleARN(testAccount, "absent"), "not-an-arn"}
	policies := []string{AccessPolicyARN("AmazonEKSViewPolicy"), AccessPolicyARN("AmazonEKSAutoNodePolicy"), AccessPolicyARN("AmazonEKSGodModePolicy"), AccessPolicyARNIn("aws-cn", "AmazonEKSViewPolicy"), "garbage"}
	pageQueries := []string{"", "maxResults=0", "maxResults=101", "maxResults=x", "maxResults=2", "nextToken=garbage"}
	malformed := []string{"", "{", "[]", `{"principalArn": 7}`}
	var reqs []rawRequest
	add := func(op, method, path, query, body string) {
		reqs = append(reqs, rawRequest{op, method, path, query, body})
	}
	for _, q := range pageQueries {
		add("ListAccessPolicies", "GET", "/access-policies", q, "")
		add("ListClusters", "GET", "/clusters", q, "")
	}
	for _, cl := range clusters {
		base := "/clusters/" + cl
		add("DescribeCluster", "GET", base, "", "")
		add("DescribeUpdate", "GET", base+"/updates/nope", "", "")
		for _, q := range pageQueries {
			add("ListUpdates", "GET", base+"/updates", q, "")
			add("ListAccessEntries", "GET", base+"/access-entries", q, "")
		}
		for _, p := range policies {
			add("ListAccessEntries", "GET", base+"/access-entries", "associatedPolicyArn="+url.QueryEscape(p), "")
		}
		for _, b := range append(slices.Clone(malformed),
			`{"accessConfig": {"authenticationMode": "OIDC"}}`, `{"accessConfig": {}}`, `{"logging": {}}`,
			`{"accessConfig": {"authenticationMode": "CONFIG_MAP"}}`, `{"accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}`) {
			add("UpdateClusterConfig", "POST", base+"/update-config", "", b)
		}
		creates := slices.Clone(malformed)
		for _, p := range principals {
			for _, typ := range []string{"", "EC2_LINUX", "EC2", "FARGATE_LINUX", "HYBRID_LINUX", "WINDOWS"} {
				creates = append(creates, fmt.Sprintf(`{"principalArn": %q, "type": %q}`, p, typ))
			}
			creates = append(creates,
				fmt.Sprintf(`{"principalArn": %q, "username": "system:x"}`, p),
				fmt.Sprintf(`{"principalArn": %q, "kubernetesGroups": ["system:masters"]}`, p),
				fmt.Sprintf(`{"principalArn": %q, "tags": {"aws:x": "y"}}`, p),
				fmt.Sprintf(`{"principalArn": %q, "clientRequestToken": "t1"}`, p))
		}
		for _, b := range creates {
			add("CreateAccessEntry", "POST", base+"/access-entries", "", b)
		}
		for _, p := range principals {
			entry := base + "/access-entries/" + esc(p)
			add("DescribeAccessEntry", "GET", entry, "", "")
			for _, b := range append(slices.Clone(malformed), `{"username": "eks:x"}`, `{"kubernetesGroups": ["g"]}`, `{"username": "me"}`) {
				add("UpdateAccessEntry", "POST", entry, "", b)
			}
			for _, pol := range policies {
				for _, scope := range []string{`{"type": "cluster"}`, `{"type": "namespace", "namespaces": ["dev"]}`, `{"type": "namespace"}`, `{"type": "region"}`} {
					add("AssociateAccessPolicy", "POST", entry+"/access-policies", "", fmt.Sprintf(`{"policyArn": %q, "accessScope": %s}`, pol, scope))
				}
			}
			for _, b := range malformed {
				add("AssociateAccessPolicy", "POST", entry+"/access-policies", "", b)
			}
			for _, q := range pageQueries {
				add("ListAssociatedAccessPolicies", "GET", entry+"/access-policies", q, "")
			}
		}
	}
	resources := []string{"garbage", "arn:aws:eks:us-west-2:111122223333:cluster/demo", "arn:aws:eks:us-west-2:444455556666:cluster/demo",
		"arn:aws-cn:eks:us-west-2:111122223333:cluster/demo", entryARNs[myRole],
		"arn:aws:eks:us-west-2:111122223333:access-entry/demo/role/111122223333/gone/0a0b0c0d-0000-4000-8000-000000000000"}
	many := map[string]map[string]string{"tags": {}}
	for i := range 51 {
		many["tags"][fmt.Sprintf("k%d", i)] = "v"
	}
	b, _ := json.Marshal(many)
	manyJSON := string(b)
	for _, r := range resources {
		path := "/tags/" + esc(r)
		add("ListTagsForResource", "GET", path, "", "")
		for _, b := range append(slices.Clone(malformed), `{"tags": {}}`, `{"tags": {"aws:x": "y"}}`, `{"tags": {"k": "aws:v"}}`, `{"tags": {"a,b": "v"}}`, `{"tags": {"k": "v"}}`, manyJSON) {
			add("TagResource", "POST", path, "", b)
		}
		for _, q := range []string{"", "tagKeys=aws%3Ax", "tagKeys=k"} {
			add("UntagResource", "DELETE", path, q, "")
		}
	}
	for _, cl := range clusters {
		for _, p := range principals {
			entry := "/clusters/" + cl + "/access-entries/" + esc(p)
			for _, pol := range policies {
				add("DisassociateAccessPolicy", "DELETE", entry+"/access-policies/"+esc(pol), "", "")
			}
			add("DeleteAccessEntry", "DELETE", entry, "", "")
			add("DeleteAccessEntry", "DELETE", entry, "", "")
		}
	}
	return reqs
}

// TestErrorCodesAreDeclared walks every operation the emulator serves through
// requests that provoke its errors, and checks that each error code it answered
// is one the EKS model declares for that operation, one it returns for a
// reason written down in undeclaredErrors, or one any call can get.
func TestErrorCodesAreDeclared(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{
		{Name: "demo", NodeGroups: []NodeGroupConfig{{Name: "ng", NodeRoleARN: roleARN(testAccount, "ng-linux")}},
			FargateProfiles: []FargateProfileConfig{{Name: "fp", PodExecutionRoleARN: roleARN(testAccount, "fargate")}},
			AutoMode:        &AutoModeConfig{ClusterRoleARN: roleARN(testAccount, "auto-cluster"), NodeRoleARN: roleARN(testAccount, "ng-auto")},
			CreatorAdmin:    myRole},
		{Name: "legacy", AuthenticationMode: ModeConfigMap},
	}})
	entryARNs := map[string]string{}
	for _, e := range s.Entries(testAccount, testRegion, "demo") {
		entryARNs[e.PrincipalARN] = e.AccessEntryARN
	}
	reqs := walkRequests(entryARNs)
	for _, r := range reqs {
		u := s.URL() + r.path
		if r.query != "" {
			u += "?" + r.query
		}
		req, err := http.NewRequest(r.method, u, strings.NewReader(r.body))
		mustOK(t, err, "request")
		resp, err := http.DefaultClient.Do(req)
		mustOK(t, err, r.method+" "+r.path)
		var body struct {
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		code := resp.Header.Get("X-Amzn-ErrorType")
		declared, known := declaredErrors[r.op]
		switch {
		case code == "UnknownOperationException":
			t.Fatalf("%s %s?%s did not reach %s", r.method, r.path, r.query, r.op)
		case !known:
			t.Fatalf("operation %s is served but its declared errors are not in the table", r.op)
		case code == "" || slices.Contains(declared, code) || slices.Contains(anyOperationErrors, code):
		case !slices.ContainsFunc(undeclaredErrors[r.op][code].messages, func(m string) bool { return strings.Contains(body.Message, m) }):
			t.Errorf("%s %s?%s %s: %s %q, which the model does not declare for %s (declared: %v)", r.method, r.path, r.query, r.body, code, body.Message, r.op, declared)
		}
	}

	calls := s.Calls()
	if !slices.Equal(slices.Sorted(maps.Keys(calls)), slices.Sorted(maps.Keys(declaredErrors))) {
		t.Errorf("operations called %v, want every one of %v", slices.Sorted(maps.Keys(calls)), slices.Sorted(maps.Keys(declaredErrors)))
	}
	for op := range declaredErrors {
		errs := 0
		for code, n := range calls[op] {
			if code != "OK" {
				errs += n
			}
		}
		if errs == 0 {
			t.Errorf("the walk provoked no error from %s: %v", op, calls[op])
		}
	}
	// Every allowance for an undeclared code must still be needed.
	for op, codes := range undeclaredErrors {
		for code := range codes {
			if calls[op][code] == 0 {
				t.Errorf("%s never answered %s: drop it from undeclaredErrors", op, code)
			}
		}
	}
	t.Logf("%d requests; outcomes: %v", len(reqs), calls)
}
