package eksemulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The emulator answers two IAM reads, GetRole and GetUser, at the same address
// and in the same awsQuery protocol as STS: the operator asks them for the unique
// ID of a principal, which EKS binds an access entry to. Like STS calls they are
// counted but never throttled or faulted.

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
	case "GetCallerIdentity", "AssumeRole", "GetRole", "GetUser", "STS", "SQS":
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
}
