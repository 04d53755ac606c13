package eksemulator

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// session is a set of temporary credentials issued by AssumeRole. EKS calls
// signed with its access key act in the role's account.
type session struct {
	accessKey     string
	role          principalRef
	name          string
	assumedARN    string
	assumedRoleID string
	created       time.Time
	expires       time.Time
}

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

type stsMetadata struct {
	RequestID string `xml:"RequestId"`
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string
		UserId  string
		Account string
	} `xml:"GetCallerIdentityResult"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Credentials struct {
			AccessKeyId     string
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		AssumedRoleUser struct {
			AssumedRoleId string
			Arn           string
		}
	} `xml:"AssumeRoleResult"`
	Metadata stsMetadata `xml:"ResponseMetadata"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// serveSTS answers the awsQuery protocol: a form-encoded POST with Action, and
// an XML response. STS calls are counted but never throttled or faulted, so
// SDK start-up stays reliable under any fault settings.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.count("STS", "MalformedInput")
		writeSTSError(w, http.StatusBadRequest, "MalformedInput", "The request body is not a valid form: "+err.Error())
		return
	}
	action := r.PostForm.Get("Action")
	op := action
	if op != "GetCallerIdentity" && op != "AssumeRole" && op != "GetRole" && op != "GetUser" && op != "ListRoles" {
		op = "STS"
	}
	status, code, msg, out := s.stsAction(r, action)
	if code != "" {
		s.count(op, code)
		writeSTSError(w, status, code, msg)
		return
	}
	s.count(op, "OK")
	b, err := xml.Marshal(out)
	if err != nil {
		writeSTSError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

func (s *Server) stsAction(r *http.Request, action string) (status int, code, msg string, out any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	who, aerr := s.callerFor(r)
	if aerr != nil {
		return http.StatusForbidden, "ExpiredToken", aerr.message, nil
	}
	now := time.Now().Truncate(time.Millisecond)
	switch action {
	case "GetCallerIdentity":
		resp := getCallerIdentityResponse{Xmlns: stsNamespace, Metadata: stsMetadata{requestID()}}
		resp.Result.Account = who.account
		resp.Result.Arn, resp.Result.UserId = callerIdentity(who)
		return 0, "", "", resp
	case "AssumeRole":
		return s.assumeRole(r, who, now)
	case "GetRole":
		return s.iamGet(r, who, "role")
	case "GetUser":
		return s.iamGet(r, who, "user")
	case "ListRoles":
		return s.iamListRoles(r, who, now)
	}
	return http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %q (the EKS emulator implements STS GetCallerIdentity and AssumeRole, IAM GetRole, GetUser and ListRoles, and SQS in its JSON protocol only).", action), nil
}

// callerIdentity is the ARN and user ID GetCallerIdentity reports. Callers with
// credentials the emulator did not issue act as the default account's root.
func callerIdentity(who caller) (arn, userID string) {
	if who.session != nil {
		return who.session.assumedARN, who.session.assumedRoleID
	}
	return "arn:" + PartitionOf(who.region) + ":iam::" + who.account + ":root", who.account
}

func (s *Server) assumeRole(r *http.Request, who caller, now time.Time) (int, string, string, any) {
	roleARN, name := r.PostForm.Get("RoleArn"), r.PostForm.Get("RoleSessionName")
	switch {
	case roleARN == "":
		return http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null", nil
	case !sessionNameRE.MatchString(name):
		return http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*", name), nil
	}
	duration := time.Hour
	if v := r.PostForm.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 900 || n > 43200 {
			return http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", v), nil
		}
		duration = time.Duration(n) * time.Second
	}
	role, aerr := parsePrincipalARN(roleARN)
	if aerr != nil || role.Kind != "role" {
		return http.StatusBadRequest, "ValidationError", fmt.Sprintf("%s is not a valid IAM role ARN.", roleARN), nil
	}
	callerARN, _ := callerIdentity(who)
	if !s.principalUsable(roleARN, now) || !s.trusts(roleARN, who.account, r.PostForm.Get("ExternalId")) {
		return http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", callerARN, roleARN), nil
	}
	sess := &session{
		accessKey:  "ASIA" + s.randomString(16, idAlphabet),
		role:       role,
		name:       name,
		assumedARN: fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", role.Partition, role.Account, role.Name, name),
		created:    now,
		expires:    now.Add(duration),
	}
	sess.assumedRoleID = s.principalID(role, now) + ":" + name
	s.sessions[sess.accessKey] = sess

	resp := assumeRoleResponse{Xmlns: stsNamespace, Metadata: stsMetadata{requestID()}}
	resp.Result.Credentials.AccessKeyId = sess.accessKey
	resp.Result.Credentials.SecretAccessKey = s.randomString(40, idAlphabet+"abcdefghijklmnopqrstuvwxyz")
	resp.Result.Credentials.SessionToken = "EKSEMULATOR" + s.randomString(64, idAlphabet+"abcdefghijklmnopqrstuvwxyz")
	resp.Result.Credentials.Expiration = sess.expires.UTC().Format(time.RFC3339)
	resp.Result.AssumedRoleUser.AssumedRoleId = sess.assumedRoleID
	resp.Result.AssumedRoleUser.Arn = sess.assumedARN
	return 0, "", "", resp
}

// trusts reports whether a role's trust policy lets an account assume it with an
// external ID. As STS, a refusal does not say which condition failed.
func (s *Server) trusts(roleARN, account, externalID string) bool {
	for _, t := range s.cfg.Roles {
		if t.RoleARN != roleARN {
			continue
		}
		if len(t.TrustedAccounts) > 0 && !slices.Contains(t.TrustedAccounts, account) {
			return false
		}
		return t.ExternalID == "" || t.ExternalID == externalID
	}
	return true
}

func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	e := stsErrorResponse{Xmlns: stsNamespace, RequestID: requestID()}
	e.Error.Type = "Sender"
	if status >= 500 {
		e.Error.Type = "Receiver"
	}
	e.Error.Code, e.Error.Message = code, msg
	b, _ := xml.Marshal(e)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), b...))
}
