package awsapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind is what a caller does about an AWS error. Each kind is one cause; the
// table test in errors_test.go lists every EKS, STS and IAM code and its kind.
type Kind int

const (
	// Transient: return the error; the workqueue retries with backoff (5xx,
	// network, anything not known).
	Transient Kind = iota
	// NotFound: the entry (or association) is absent; success for a delete.
	NotFound
	// ClusterNotFound: no such cluster in this account and region; check again later.
	ClusterNotFound
	// InUse: the entry already exists.
	InUse
	// InvalidPrincipal: EKS does not know the principal, often because IAM has
	// not propagated a new role yet; retry with backoff, then stall.
	InvalidPrincipal
	// InvalidSpec: EKS refused what the spec says (a reserved username, a
	// system: group, a policy the type cannot take); only a spec change helps.
	InvalidSpec
	// Refused: EKS refused the request for a reason outside the spec (tags set
	// out of band that leave no room, the cluster's state, a rule it has not told
	// us about); checked again later, with drift healing on.
	Refused
	// ModeNotSupported: the cluster authenticates through the aws-auth
	// ConfigMap only; someone has to switch its authentication mode.
	ModeNotSupported
	// Throttled: slow down; retry with backoff.
	Throttled
	// AccessDenied: the caller's IAM identity lacks a permission.
	AccessDenied
	// AssumeRoleDenied: STS refused to let the operator assume the target's role
	// (its trust policy, the external ID, or the operator's sts:AssumeRole).
	AssumeRoleDenied
	// BadCredentials: AWS does not accept the credentials at all (expired,
	// unknown key, a web identity token it refuses).
	BadCredentials
	// LimitExceeded: the cluster has reached its quota of access entries.
	LimitExceeded
	// BudgetSpent: the operator's own budget of calls for the account and region
	// holds no token now (*OverBudgetError); the work waits its turn.
	BudgetSpent
)

// codeKinds are the error codes whose kind does not depend on the message: EKS's
// (service/eks/types), STS's and the common ones of every AWS service. Codes are
// compared as strings, not as SDK types: an operation's deserializer only knows
// the codes its model declares, and EKS answers with others too (an
// InvalidParameterException from ListAssociatedAccessPolicies reaches us as a
// generic API error with that code).
var codeKinds = map[string]Kind{
	// EKS
	"ResourceNotFoundException":            NotFound,
	"NotFoundException":                    NotFound,
	"ResourceInUseException":               InUse,
	"ResourceLimitExceededException":       LimitExceeded,
	"ResourcePropagationDelayException":    Transient,
	"ServerException":                      Transient,
	"ServiceUnavailableException":          Transient,
	"AccessDeniedException":                AccessDenied,
	"InvalidStateException":                Refused,
	"UnsupportedAvailabilityZoneException": Refused,
	"InvalidParameterException":            InvalidSpec, // refined by the message
	"InvalidRequestException":              InvalidSpec, // refined by the message
	"BadRequestException":                  InvalidSpec, // refined by the message
	"ClientException":                      InvalidSpec, // refined by the message
	// Throttling, as the SDK's retryer names it across services.
	"ThrottlingException":       Throttled,
	"Throttling":                Throttled,
	"TooManyRequestsException":  Throttled,
	"RequestLimitExceeded":      Throttled,
	"RequestThrottled":          Throttled,
	"RequestThrottledException": Throttled,
	"SlowDown":                  Throttled,
	// Credentials, for any service (SigV4 and STS).
	"UnrecognizedClientException": BadCredentials,
	"InvalidClientTokenId":        BadCredentials,
	"InvalidSignatureException":   BadCredentials,
	"SignatureDoesNotMatch":       BadCredentials,
	"ExpiredToken":                BadCredentials,
	"ExpiredTokenException":       BadCredentials,
	"InvalidIdentityToken":        BadCredentials,
	"IDPRejectedClaim":            BadCredentials,
	"IDPCommunicationError":       Transient,
	// STS refusing a role: AssumeRole declares none of these, so they are generic.
	"AccessDenied":                       AssumeRoleDenied,
	"RegionDisabledException":            AssumeRoleDenied,
	"MalformedPolicyDocument":            AssumeRoleDenied,
	"PackedPolicyTooLarge":               AssumeRoleDenied,
	"SessionDurationEscalationException": AssumeRoleDenied,
	// STS refusing the operator's own web identity (IRSA) or trade-in token.
	"JWTPayloadSizeExceededException": BadCredentials,
	"ExpiredTradeInTokenException":    BadCredentials,
}

// String names the kind, for the table test and logs.
func (k Kind) String() string {
	return [...]string{"transient", "not-found", "cluster-not-found", "in-use", "invalid-principal", "invalid-spec", "refused",
		"mode-not-supported", "throttled", "access-denied", "assume-role-denied", "bad-credentials", "limit-exceeded", "budget-spent"}[k]
}

// specFaults are (lowercased) pieces of EKS's refusals that name something the
// spec says: these are InvalidSpec. A refusal matching none is taken as caused
// from outside the spec and checked again, so that an unknown wording never
// freezes an object for good.
var specFaults = []string{
	"username",
	"{{sessionname}}",
	"kubernetes group", "kubernetesgroups", "group name",
	`type of "standard"`, "is not valid. valid types", "access entry type", "entries of type",
	"access policy", "policyarn",
	"namespace", "access scope", "accessscope",
	"principalarn is invalid", "service-linked role", "assumed-role", "iam role", "not a valid iam",
	"tag key", "tag value",
}

// outsideFaults are pieces of refusals caused from outside the spec even though
// they also match a spec fault (a tag limit filled by others' tags).
var outsideFaults = []string{"too many tags", "tags per resource", "tag limit"}

// Classify maps an AWS error to what the caller does about it. It is the one
// place that reads the SDK's error types and EKS's wording; nil is Transient.
func Classify(err error) Kind {
	var (
		apiErr  smithy.APIError
		respErr *smithyhttp.ResponseError
		over    *OverBudgetError
	)
	switch {
	case err == nil:
		return Transient
	case errors.As(err, &over):
		return BudgetSpent
	case errors.As(err, &apiErr):
		return kindOf(apiErr.ErrorCode(), apiErr.ErrorMessage())
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusTooManyRequests:
		return Throttled
	}
	return Transient
}

// kindOf is the kind of an error code and message.
func kindOf(code, message string) Kind {
	kind, known := codeKinds[code]
	if !known {
		return Transient
	}
	msg := strings.ToLower(message)
	switch {
	case kind == NotFound && code == "ResourceNotFoundException" && strings.Contains(msg, "no cluster found"):
		return ClusterNotFound
	case kind != InvalidSpec:
		return kind
	case code == "InvalidParameterException" && strings.Contains(msg, "invalid principal"):
		return InvalidPrincipal
	case code == "InvalidRequestException" && strings.Contains(msg, "authentication mode"):
		return ModeNotSupported
	case containsAny(msg, outsideFaults):
		return Refused
	case containsAny(msg, specFaults):
		return InvalidSpec
	}
	return Refused
}

func containsAny(s string, parts []string) bool {
	return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(s, p) })
}

// IsNotFound reports an error that says the thing asked for is absent.
func IsNotFound(err error) bool { return err != nil && Classify(err) == NotFound }

// AssumedRole is the role STS refused to let the operator assume, read from the
// error: the resource STS names, or "" when the error is not STS's.
func AssumedRole(err error) string {
	var opErr *smithy.OperationError
	for e := err; errors.As(e, &opErr); e = opErr.Err {
		if opErr.ServiceID == "STS" {
			msg := Message(opErr.Err)
			if _, role, ok := strings.Cut(msg, "on resource: "); ok {
				return strings.TrimSpace(role)
			}
			return ""
		}
	}
	return ""
}

// Message is the service's own message for an API error, without the SDK's
// wrapping; the error's text for any other.
func Message(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorMessage()
	}
	return err.Error()
}

// Operation names the EKS action an error came from ("eks:TagResource"), for
// messages that say which permission is missing.
func Operation(err error) string {
	var opErr *smithy.OperationError
	if errors.As(err, &opErr) {
		return "eks:" + opErr.OperationName
	}
	return "an EKS action"
}

// wrapf wraps an AWS error with what the caller was doing.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
