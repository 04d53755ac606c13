package controllers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// eksErr is an EKS error as the SDK returns it: an API error with code and
// message inside the operation's error.
func eksErr(op, code, msg string) error {
	return &smithy.OperationError{ServiceID: "EKS", OperationName: op, Err: &smithy.GenericAPIError{Code: code, Message: msg}}
}

// stsErr is an STS refusal met while the EKS client fetched credentials for a
// role, wrapped as aws-sdk-go-v2 wraps it.
func stsErr(code, msg string) error {
	sts := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithy.GenericAPIError{Code: code, Message: msg}}
	return &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry",
		Err: fmt.Errorf("get identity: get credentials: failed to refresh cached credentials, %w", sts)}
}

// TestErrorClasses lists every error code EKS, STS and the credential chain can
// answer the operator's calls with, and the class each falls in. Only refusals of
// what the spec says are invalid-spec (terminal); everything else either waits,
// retries, or is checked again every --recheck-interval.
func TestErrorClasses(t *testing.T) {
	const role = "arn:aws:iam::444455556666:role/eks-access-operator"
	cases := []struct {
		name string
		err  error
		want errKind
	}{
		// EKS: every code of service/eks/types.
		{"AccessDeniedException", eksErr("CreateAccessEntry", "AccessDeniedException", "not authorized to perform: eks:CreateAccessEntry"), errAccessDenied},
		{"BadRequestException: too many tags", eksErr("TagResource", "BadRequestException", "Too many tags: the resource would have 51 tags, at most 50 are allowed."), errRefused},
		{"BadRequestException: a tag key", eksErr("TagResource", "BadRequestException", `Tag key "a b" is invalid.`), errInvalidSpec},
		{"ClientException", eksErr("DescribeCluster", "ClientException", "the request was refused"), errRefused},
		{"InvalidParameterException: username", eksErr("CreateAccessEntry", "InvalidParameterException", "The username must not begin with system:"), errInvalidSpec},
		{"InvalidParameterException: group", eksErr("UpdateAccessEntry", "InvalidParameterException", "The kubernetes group name system:nodes is invalid, it cannot start with system"), errInvalidSpec},
		{"InvalidParameterException: type", eksErr("AssociateAccessPolicy", "InvalidParameterException", `This operation can only be performed on Access Entries with a type of "STANDARD".`), errInvalidSpec},
		{"InvalidParameterException: policy", eksErr("AssociateAccessPolicy", "InvalidParameterException", "The specified policyArn arn:aws:eks::aws:cluster-access-policy/Nope is not a valid access policy."), errInvalidSpec},
		{"InvalidParameterException: namespace", eksErr("AssociateAccessPolicy", "InvalidParameterException", `The namespace "A" is invalid.`), errInvalidSpec},
		{"InvalidParameterException: invalid principal", eksErr("CreateAccessEntry", "InvalidParameterException", "The specified principalArn is invalid: invalid principal"), errInvalidPrincipal},
		{"InvalidParameterException: a node role in another account", eksErr("CreateAccessEntry", "InvalidParameterException", "The principal of an access entry of type EC2_LINUX must be an IAM role in the cluster's account 111122223333; arn:aws:iam::444455556666:role/n is in account 444455556666."), errInvalidSpec},
		{"InvalidParameterException: groups on a node type", eksErr("CreateAccessEntry", "InvalidParameterException", "kubernetesGroups cannot be specified for access entries of type EC2_LINUX."), errInvalidSpec},
		{"InvalidParameterException: a principal of another partition", eksErr("CreateAccessEntry", "InvalidParameterException", "The specified principalArn is invalid: arn:aws-cn:iam::1:role/r is in partition aws-cn and the cluster in aws."), errInvalidSpec},
		{"InvalidParameterException: a policy an EC2 entry does not take", eksErr("AssociateAccessPolicy", "InvalidParameterException", "Access entries of type EC2 take only the access policy arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy, at cluster scope."), errInvalidSpec},
		{"InvalidParameterException: an authentication mode EKS does not move to", eksErr("UpdateClusterConfig", "InvalidParameterException", "Unsupported authentication mode update from API to CONFIG_MAP."), errRefused},
		{"InvalidParameterException: unknown wording", eksErr("CreateAccessEntry", "InvalidParameterException", "Something EKS has never said before."), errRefused},
		{"InvalidParameterException from ListAssociatedAccessPolicies (undeclared there)", eksErr("ListAssociatedAccessPolicies", "InvalidParameterException", `This operation can only be performed on Access Entries with a type of "STANDARD".`), errInvalidSpec},
		{"InvalidRequestException: authentication mode", eksErr("CreateAccessEntry", "InvalidRequestException", "The authentication mode of the cluster must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."), errModeNotSupported},
		{"InvalidRequestException: cluster state", eksErr("CreateAccessEntry", "InvalidRequestException", "Cluster is in UPDATING state."), errRefused},
		{"InvalidStateException", eksErr("CreateAccessEntry", "InvalidStateException", "The cluster is being deleted."), errRefused},
		{"NotFoundException", eksErr("ListTagsForResource", "NotFoundException", "The resource could not be found."), errNotFound},
		{"ResourceInUseException", eksErr("CreateAccessEntry", "ResourceInUseException", "The specified access entry resource is already in use on this cluster."), errInUse},
		{"ResourceLimitExceededException", eksErr("CreateAccessEntry", "ResourceLimitExceededException", "Access entry quota reached."), errLimitExceeded},
		{"ResourceNotFoundException: entry", eksErr("DescribeAccessEntry", "ResourceNotFoundException", "The specified principalArn could not be found."), errNotFound},
		{"ResourceNotFoundException: cluster", eksErr("DescribeAccessEntry", "ResourceNotFoundException", "No cluster found for name: nope."), errClusterNotFound},
		{"ResourcePropagationDelayException", eksErr("TagResource", "ResourcePropagationDelayException", "try again"), errTransient},
		{"ServerException", eksErr("CreateAccessEntry", "ServerException", "internal error"), errTransient},
		{"ServiceUnavailableException", eksErr("CreateAccessEntry", "ServiceUnavailableException", "unavailable"), errTransient},
		{"ThrottlingException", eksErr("CreateAccessEntry", "ThrottlingException", "Rate exceeded"), errThrottled},
		{"UnsupportedAvailabilityZoneException", eksErr("CreateAccessEntry", "UnsupportedAvailabilityZoneException", "zone"), errRefused},
		// The same codes as the SDK's typed errors.
		{"typed InvalidParameterException", &smithy.OperationError{ServiceID: "EKS", OperationName: "UpdateAccessEntry",
			Err: &types.InvalidParameterException{Message: aws.String("The username must not begin with eks:")}}, errInvalidSpec},
		{"typed ResourceNotFoundException", &smithy.OperationError{ServiceID: "EKS", OperationName: "DescribeAccessEntry",
			Err: &types.ResourceNotFoundException{Message: aws.String("No cluster found for name: x.")}}, errClusterNotFound},
		// Throttling without a code, and failures that never reached AWS.
		{"HTTP 429", &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry", Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusTooManyRequests}}, Err: errors.New("slow down")}}}, errThrottled},
		{"network", &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry", Err: errors.New("dial tcp: connection refused")}, errTransient},
		{"unknown code", eksErr("CreateAccessEntry", "SomethingNew", "new"), errTransient},
		// STS, refusing the role of a ClusterAccessConfig.
		{"STS AccessDenied", stsErr("AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/op/x is not authorized to perform: sts:AssumeRole on resource: "+role), errAssumeRoleDenied},
		{"STS RegionDisabledException", stsErr((&ststypes.RegionDisabledException{}).ErrorCode(), "STS is not activated in this region"), errAssumeRoleDenied},
		{"STS MalformedPolicyDocument", stsErr((&ststypes.MalformedPolicyDocumentException{}).ErrorCode(), "bad"), errAssumeRoleDenied},
		{"STS PackedPolicyTooLarge", stsErr((&ststypes.PackedPolicyTooLargeException{}).ErrorCode(), "big"), errAssumeRoleDenied},
		{"STS SessionDurationEscalationException", stsErr((&ststypes.SessionDurationEscalationException{}).ErrorCode(), "too long"), errAssumeRoleDenied},
		{"STS ExpiredToken", stsErr((&ststypes.ExpiredTokenException{}).ErrorCode(), "expired"), errBadCredentials},
		{"STS InvalidIdentityToken", stsErr((&ststypes.InvalidIdentityTokenException{}).ErrorCode(), "bad token"), errBadCredentials},
		{"STS IDPRejectedClaim", stsErr((&ststypes.IDPRejectedClaimException{}).ErrorCode(), "rejected"), errBadCredentials},
		{"STS JWTPayloadSizeExceeded", stsErr((&ststypes.JWTPayloadSizeExceededException{}).ErrorCode(), "large"), errBadCredentials},
		{"STS ExpiredTradeInToken", stsErr((&ststypes.ExpiredTradeInTokenException{}).ErrorCode(), "expired"), errBadCredentials},
		{"STS IDPCommunicationError", stsErr((&ststypes.IDPCommunicationErrorException{}).ErrorCode(), "try again"), errTransient},
		// Credentials any service refuses.
		{"UnrecognizedClientException", eksErr("CreateAccessEntry", "UnrecognizedClientException", "The security token included in the request is invalid."), errBadCredentials},
		{"InvalidSignatureException", eksErr("CreateAccessEntry", "InvalidSignatureException", "signature"), errBadCredentials},
		{"ExpiredTokenException", eksErr("CreateAccessEntry", "ExpiredTokenException", "expired"), errBadCredentials},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if got := assumedRole(stsErr("AccessDenied", "User: u is not authorized to perform: sts:AssumeRole on resource: "+role)); got != role {
		t.Errorf("assumedRole = %q, want %s", got, role)
	}
	if got := assumedRole(eksErr("CreateAccessEntry", "AccessDeniedException", "on resource: "+role)); got != "" {
		t.Errorf("assumedRole of an EKS error = %q, want none", got)
	}
	// Every EKS code of the SDK has a class of its own choosing (not the default).
	for _, e := range []interface{ ErrorCode() string }{
		&types.AccessDeniedException{}, &types.BadRequestException{}, &types.ClientException{}, &types.InvalidParameterException{},
		&types.InvalidRequestException{}, &types.InvalidStateException{}, &types.NotFoundException{}, &types.ResourceInUseException{},
		&types.ResourceLimitExceededException{}, &types.ResourceNotFoundException{}, &types.ResourcePropagationDelayException{},
		&types.ServerException{}, &types.ServiceUnavailableException{}, &types.ThrottlingException{}, &types.UnsupportedAvailabilityZoneException{},
	} {
		if _, ok := codeKinds[e.ErrorCode()]; !ok {
			t.Errorf("EKS error code %s has no class", e.ErrorCode())
		}
	}
}

// TestIAMErrorClasses: IAM is only read, for principals' unique IDs; NoSuchEntity
// means the principal is gone, anything else that it cannot be told.
func TestIAMErrorClasses(t *testing.T) {
	c := NewSDKClients(aws.Config{}, ClientOptions{})
	iamErr := func(code string) error {
		return &smithy.OperationError{ServiceID: "IAM", OperationName: "GetRole", Err: &smithy.GenericAPIError{Code: code, Message: code}}
	}
	cases := []struct {
		err  error
		want error
	}{
		{&smithy.OperationError{ServiceID: "IAM", OperationName: "GetRole", Err: &iamtypes.NoSuchEntityException{Message: aws.String("no role")}}, errNoSuchPrincipal},
		{iamErr("AccessDenied"), errPrincipalUnknowable},
		{iamErr("ServiceFailure"), errPrincipalUnknowable},
		{iamErr("Throttling"), errPrincipalUnknowable},
		{errors.New("dial tcp: no route to host"), errPrincipalUnknowable},
	}
	for _, cs := range cases {
		if got := c.iamFailed(Target{Region: "us-west-2"}, cs.err); !errors.Is(got, cs.want) {
			t.Errorf("%v: %v, want %v", cs.err, got, cs.want)
		}
	}
	// IAM that cannot be reached at all is left alone for a while.
	c.mu.Lock()
	paused := c.iam.unreachable[Target{Region: "us-west-2"}].After(time.Now())
	c.mu.Unlock()
	if !paused {
		t.Error("an unreachable IAM was not paused")
	}
}

// TestOutcomeOfEachClass: what the user sees for each class: only invalid-spec is
// terminal, refused and denied ones are checked again every --recheck-interval.
func TestOutcomeOfEachClass(t *testing.T) {
	r := &AccessEntryReconciler{RecheckInterval: 42 * time.Second}
	id := v1.EntryIdentity{ClusterName: "c", Region: "us-west-2", PrincipalARN: "arn:aws:iam::111122223333:role/r"}
	cases := []struct {
		err      error
		reason   string
		kind     outcomeKind
		terminal bool
		after    time.Duration
		says     string
	}{
		{eksErr("CreateAccessEntry", "InvalidParameterException", "The username must not begin with system:"), v1.ReasonInvalidSpec, kindStall, true, 0, "fix the spec"},
		{eksErr("TagResource", "BadRequestException", "Too many tags"), v1.ReasonRefusedByEKS, kindStall, false, 42 * time.Second, "untag-resource"},
		{eksErr("CreateAccessEntry", "InvalidRequestException", "Cluster is in UPDATING state."), v1.ReasonRefusedByEKS, kindStall, false, 42 * time.Second, "outside the spec"},
		{stsErr("AccessDenied", "User: u is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/x"), v1.ReasonAccessDenied, kindStall, false, 42 * time.Second, "arn:aws:iam::444455556666:role/x"},
		{eksErr("CreateAccessEntry", "UnrecognizedClientException", "bad"), v1.ReasonAccessDenied, kindStall, false, 42 * time.Second, "credentials"},
		{eksErr("CreateAccessEntry", "ServerException", "boom"), v1.ReasonEKSError, kindError, false, 0, "retrying"},
	}
	for _, c := range cases {
		var o *outcome
		if !errors.As(r.eksOutcome(id, c.err), &o) {
			t.Fatalf("%v: not an outcome", c.err)
		}
		if o.reason != c.reason || o.kind != c.kind || o.terminal != c.terminal || o.after != c.after || !strings.Contains(o.message, c.says) {
			t.Errorf("%v: %+v, want reason %s kind %d terminal %v after %s saying %q", c.err, *o, c.reason, c.kind, c.terminal, c.after, c.says)
		}
	}
}
