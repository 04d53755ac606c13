package awsapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/eksaccess/eks-access-operator/internal/awsapi/awsapitest"
)

// eksErr and stsErr are AWS errors as the SDK returns them.
var eksErr, stsErr = awsapitest.EKSError, awsapitest.STSError

// TestErrorClasses lists every error code EKS, STS and the credential chain can
// answer the operator's calls with, and the class each falls in. Only refusals of
// what the spec says are invalid-spec (terminal); everything else either waits,
// retries, or is checked again every --recheck-interval.
func TestErrorClasses(t *testing.T) {
	const role = "arn:aws:iam::444455556666:role/eks-access-operator"
	cases := []struct {
		name string
		err  error
		want Kind
	}{
		// EKS: every code of service/eks/types.
		{"AccessDeniedException", eksErr("CreateAccessEntry", "AccessDeniedException", "not authorized to perform: eks:CreateAccessEntry"), AccessDenied},
		{"BadRequestException: too many tags", eksErr("TagResource", "BadRequestException", "Too many tags: the resource would have 51 tags, at most 50 are allowed."), Refused},
		{"BadRequestException: a tag key", eksErr("TagResource", "BadRequestException", `Tag key "a b" is invalid.`), InvalidSpec},
		{"ClientException", eksErr("DescribeCluster", "ClientException", "the request was refused"), Refused},
		{"InvalidParameterException: username", eksErr("CreateAccessEntry", "InvalidParameterException", "The username must not begin with system:"), InvalidSpec},
		{"InvalidParameterException: group", eksErr("UpdateAccessEntry", "InvalidParameterException", "The kubernetes group name system:nodes is invalid, it cannot start with system"), InvalidSpec},
		{"InvalidParameterException: type", eksErr("AssociateAccessPolicy", "InvalidParameterException", `This operation can only be performed on Access Entries with a type of "STANDARD".`), InvalidSpec},
		{"InvalidParameterException: policy", eksErr("AssociateAccessPolicy", "InvalidParameterException", "The specified policyArn arn:aws:eks::aws:cluster-access-policy/Nope is not a valid access policy."), InvalidSpec},
		{"InvalidParameterException: namespace", eksErr("AssociateAccessPolicy", "InvalidParameterException", `The namespace "A" is invalid.`), InvalidSpec},
		{"InvalidParameterException: invalid principal", eksErr("CreateAccessEntry", "InvalidParameterException", "The specified principalArn is invalid: invalid principal"), InvalidPrincipal},
		{"InvalidParameterException: a node role in another account", eksErr("CreateAccessEntry", "InvalidParameterException", "The principal of an access entry of type EC2_LINUX must be an IAM role in the cluster's account 111122223333; arn:aws:iam::444455556666:role/n is in account 444455556666."), InvalidSpec},
		{"InvalidParameterException: groups on a node type", eksErr("CreateAccessEntry", "InvalidParameterException", "kubernetesGroups cannot be specified for access entries of type EC2_LINUX."), InvalidSpec},
		{"InvalidParameterException: a principal of another partition", eksErr("CreateAccessEntry", "InvalidParameterException", "The specified principalArn is invalid: arn:aws-cn:iam::1:role/r is in partition aws-cn and the cluster in aws."), InvalidSpec},
		{"InvalidParameterException: a policy an EC2 entry does not take", eksErr("AssociateAccessPolicy", "InvalidParameterException", "Access entries of type EC2 take only the access policy arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy, at cluster scope."), InvalidSpec},
		{"InvalidParameterException: an authentication mode EKS does not move to", eksErr("UpdateClusterConfig", "InvalidParameterException", "Unsupported authentication mode update from API to CONFIG_MAP."), Refused},
		{"InvalidParameterException: unknown wording", eksErr("CreateAccessEntry", "InvalidParameterException", "Something EKS has never said before."), Refused},
		{"InvalidParameterException from ListAssociatedAccessPolicies (undeclared there)", eksErr("ListAssociatedAccessPolicies", "InvalidParameterException", `This operation can only be performed on Access Entries with a type of "STANDARD".`), InvalidSpec},
		{"InvalidRequestException: authentication mode", eksErr("CreateAccessEntry", "InvalidRequestException", "The authentication mode of the cluster must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."), ModeNotSupported},
		{"InvalidRequestException: cluster state", eksErr("CreateAccessEntry", "InvalidRequestException", "Cluster is in UPDATING state."), Refused},
		{"InvalidStateException", eksErr("CreateAccessEntry", "InvalidStateException", "The cluster is being deleted."), Refused},
		{"NotFoundException", eksErr("ListTagsForResource", "NotFoundException", "The resource could not be found."), NotFound},
		{"ResourceInUseException", eksErr("CreateAccessEntry", "ResourceInUseException", "The specified access entry resource is already in use on this cluster."), InUse},
		{"ResourceLimitExceededException", eksErr("CreateAccessEntry", "ResourceLimitExceededException", "Access entry quota reached."), LimitExceeded},
		{"ResourceNotFoundException: entry", eksErr("DescribeAccessEntry", "ResourceNotFoundException", "The specified principalArn could not be found."), NotFound},
		{"ResourceNotFoundException: cluster", eksErr("DescribeAccessEntry", "ResourceNotFoundException", "No cluster found for name: nope."), ClusterNotFound},
		{"ResourcePropagationDelayException", eksErr("TagResource", "ResourcePropagationDelayException", "try again"), Transient},
		{"ServerException", eksErr("CreateAccessEntry", "ServerException", "internal error"), Transient},
		{"ServiceUnavailableException", eksErr("CreateAccessEntry", "ServiceUnavailableException", "unavailable"), Transient},
		{"ThrottlingException", eksErr("CreateAccessEntry", "ThrottlingException", "Rate exceeded"), Throttled},
		{"UnsupportedAvailabilityZoneException", eksErr("CreateAccessEntry", "UnsupportedAvailabilityZoneException", "zone"), Refused},
		// The same codes as the SDK's typed errors.
		{"typed InvalidParameterException", &smithy.OperationError{ServiceID: "EKS", OperationName: "UpdateAccessEntry",
			Err: &types.InvalidParameterException{Message: aws.String("The username must not begin with eks:")}}, InvalidSpec},
		{"typed ResourceNotFoundException", &smithy.OperationError{ServiceID: "EKS", OperationName: "DescribeAccessEntry",
			Err: &types.ResourceNotFoundException{Message: aws.String("No cluster found for name: x.")}}, ClusterNotFound},
		// Throttling without a code, and failures that never reached AWS.
		{"HTTP 429", &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry", Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusTooManyRequests}}, Err: errors.New("slow down")}}}, Throttled},
		{"network", &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry", Err: errors.New("dial tcp: connection refused")}, Transient},
		{"unknown code", eksErr("CreateAccessEntry", "SomethingNew", "new"), Transient},
		// STS, refusing the role of a ClusterAccessConfig.
		{"STS AccessDenied", stsErr("AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/op/x is not authorized to perform: sts:AssumeRole on resource: "+role), AssumeRoleDenied},
		{"STS RegionDisabledException", stsErr((&ststypes.RegionDisabledException{}).ErrorCode(), "STS is not activated in this region"), AssumeRoleDenied},
		{"STS MalformedPolicyDocument", stsErr((&ststypes.MalformedPolicyDocumentException{}).ErrorCode(), "bad"), AssumeRoleDenied},
		{"STS PackedPolicyTooLarge", stsErr((&ststypes.PackedPolicyTooLargeException{}).ErrorCode(), "big"), AssumeRoleDenied},
		{"STS SessionDurationEscalationException", stsErr((&ststypes.SessionDurationEscalationException{}).ErrorCode(), "too long"), AssumeRoleDenied},
		{"STS ExpiredToken", stsErr((&ststypes.ExpiredTokenException{}).ErrorCode(), "expired"), BadCredentials},
		{"STS InvalidIdentityToken", stsErr((&ststypes.InvalidIdentityTokenException{}).ErrorCode(), "bad token"), BadCredentials},
		{"STS IDPRejectedClaim", stsErr((&ststypes.IDPRejectedClaimException{}).ErrorCode(), "rejected"), BadCredentials},
		{"STS JWTPayloadSizeExceeded", stsErr((&ststypes.JWTPayloadSizeExceededException{}).ErrorCode(), "large"), BadCredentials},
		{"STS ExpiredTradeInToken", stsErr((&ststypes.ExpiredTradeInTokenException{}).ErrorCode(), "expired"), BadCredentials},
		{"STS IDPCommunicationError", stsErr((&ststypes.IDPCommunicationErrorException{}).ErrorCode(), "try again"), Transient},
		// Credentials any service refuses.
		{"UnrecognizedClientException", eksErr("CreateAccessEntry", "UnrecognizedClientException", "The security token included in the request is invalid."), BadCredentials},
		{"InvalidSignatureException", eksErr("CreateAccessEntry", "InvalidSignatureException", "signature"), BadCredentials},
		{"ExpiredTokenException", eksErr("CreateAccessEntry", "ExpiredTokenException", "expired"), BadCredentials},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if got := AssumedRole(stsErr("AccessDenied", "User: u is not authorized to perform: sts:AssumeRole on resource: "+role)); got != role {
		t.Errorf("AssumedRole = %q, want %s", got, role)
	}
	if got := AssumedRole(eksErr("CreateAccessEntry", "AccessDeniedException", "on resource: "+role)); got != "" {
		t.Errorf("AssumedRole of an EKS error = %q, want none", got)
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
