package eksemulator

import (
	"cmp"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The emulator answers three IAM reads, GetRole, GetUser and ListRoles, at the
// same address and in the same awsQuery protocol as STS: the operator asks them
// for the unique ID of a principal, which EKS binds an access entry to, and for
// the roles IAM Identity Center provisions under its reserved path. Like STS
// calls they are counted but never throttled or faulted.

const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

type getRoleResponse struct {
	XMLName xml.Name `xml:"GetRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Role struct {
			Path       string
			RoleName   string
			RoleId     string
			Arn        string
			CreateDate string
		}
	} `xml:"GetRoleResult"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

type getUserResponse struct {
	XMLName xml.Name `xml:"GetUserResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		User struct {
			Path       string
			UserName   string
			UserId     string
			Arn        string
			CreateDate string
		}
	} `xml:"GetUserResult"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

// iamGet answers GetRole or GetUser (kind "role" or "user") for a principal of the
// caller's account, looked up by name as IAM does (names are unique in an account
// whatever their path, and compared without case). Caller holds s.mu.
func (s *Server) iamGet(r *http.Request, who caller, kind string) (int, string, string, any) {
	param := map[string]string{"role": "RoleName", "user": "UserName"}[kind]
	name := r.PostForm.Get(param)
	if name == "" {
		return http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", strings.ToLower(param[:1])+param[1:]), nil
	}
	var rec *principal
	var ref principalRef
	for arn, p := range s.principals {
		pr, err := parsePrincipalARN(arn)
		if err == nil && pr.Account == who.account && pr.Kind == kind && strings.EqualFold(pr.Name, name) {
			rec, ref = p, pr
			break
		}
	}
	if rec == nil {
		return http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The %s with name %s cannot be found.", kind, name), nil
	}
	created := rec.createdAt.UTC().Format(time.RFC3339)
	if kind == "role" {
		resp := getRoleResponse{Xmlns: iamNamespace, Metadata: stsMetadata{requestID()}}
		resp.Result.Role.Path, resp.Result.Role.RoleName, resp.Result.Role.RoleId = ref.Path, ref.Name, rec.id
		resp.Result.Role.Arn, resp.Result.Role.CreateDate = rec.arn, created
		return 0, "", "", resp
	}
	resp := getUserResponse{Xmlns: iamNamespace, Metadata: stsMetadata{requestID()}}
	resp.Result.User.Path, resp.Result.User.UserName, resp.Result.User.UserId = ref.Path, ref.Name, rec.id
	resp.Result.User.Arn, resp.Result.User.CreateDate = rec.arn, created
	return 0, "", "", resp
}

// IsEKS says whether an operation counted in Calls is one of EKS's; the others
// are the STS, IAM and SQS calls served beside it, which have quotas of their own.
func IsEKS(op string) bool {
	switch op {
	case "GetCallerIdentity", "AssumeRole", "GetRole", "GetUser", "ListRoles", "STS", "SQS":
		return false
	}
	return sqsOperations[op] == nil
}

// DeletePrincipal deletes an IAM principal: IAM reads no longer find it, and
// entries made for it are reported with PrincipalStale once it is created again.
// In strict mode EKS refuses new entries for it.
func (s *Server) DeletePrincipal(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.principals, arn)
	s.deleted[arn] = true
}

// listRolesPage is the most roles one ListRoles page holds, whatever MaxItems
// asks: IAM may return fewer than MaxItems with IsTruncated set, and a client
// that does not follow Marker misses roles. Tests lower it (SetListRolesPage).
const defaultListRolesPage = 100

type listRolesResponse struct {
	XMLName xml.Name `xml:"ListRolesResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		IsTruncated bool
		Marker      string `xml:",omitempty"`
		Roles       struct {
			Members []listedRole `xml:"member"`
		}
	} `xml:"ListRolesResult"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

type listedRole struct {
	Path       string
	RoleName   string
	RoleId     string
	Arn        string
	CreateDate string
}

// iamPathPrefixRE is IAM's pattern for PathPrefix: "/" alone, or a string that
// begins and ends with "/" of the characters ! through DEL.
var iamPathPrefixRE = regexp.MustCompile(`^(/|/[\x21-\x7F]*/)$`)

// iamListRoles answers ListRoles for the caller's account: the roles IAM shows
// now (created and propagated) whose path starts with PathPrefix, ordered by
// name without case, a page of at most MaxItems (1 to 1000, 100 by default)
// and the emulator's page size, with IsTruncated and an opaque Marker to go
// on from. Caller holds s.mu.
func (s *Server) iamListRoles(r *http.Request, who caller, now time.Time) (int, string, string, any) {
	prefix := cmp.Or(r.PostForm.Get("PathPrefix"), "/")
	if !iamPathPrefixRE.MatchString(prefix) || len(prefix) > 512 {
		return http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*", prefix), nil
	}
	limit := 100
	if v := r.PostForm.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v), nil
		}
		limit = n
	}
	after := ""
	if m := r.PostForm.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return http.StatusBadRequest, "ValidationError", "Invalid Marker: it is not one this service returned.", nil
		}
		after = string(b)
	}
	var roles []listedRole
	for arn, p := range s.principals {
		pr, err := parsePrincipalARN(arn)
		if err != nil || pr.Account != who.account || pr.Kind != "role" || !strings.HasPrefix(pr.Path, prefix) || now.Before(p.visibleAt) {
			continue
		}
		roles = append(roles, listedRole{Path: pr.Path, RoleName: pr.Name, RoleId: p.id, Arn: arn, CreateDate: p.createdAt.UTC().Format(time.RFC3339)})
	}
	key := func(l listedRole) string { return strings.ToLower(l.RoleName) + "\x00" + l.Arn }
	slices.SortFunc(roles, func(a, b listedRole) int { return strings.Compare(key(a), key(b)) })
	start := sort.Search(len(roles), func(i int) bool { return key(roles[i]) > after })
	roles = roles[start:]
	resp := listRolesResponse{Xmlns: iamNamespace, Metadata: stsMetadata{requestID()}}
	if page := min(limit, cmp.Or(s.listRolesPage, defaultListRolesPage)); len(roles) > page {
		roles = roles[:page]
		resp.Result.IsTruncated, resp.Result.Marker = true, base64.RawURLEncoding.EncodeToString([]byte(key(roles[page-1])))
	}
	resp.Result.Roles.Members = roles
	return 0, "", "", resp
}

// SetListRolesPage sets the most roles a ListRoles page holds (0: IAM's 100),
// so that a test sees pages smaller than the MaxItems it asks for.
func (s *Server) SetListRolesPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listRolesPage = n
}
