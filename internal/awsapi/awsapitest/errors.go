// Package awsapitest makes AWS errors the way the SDK returns them, for the
// tests of awsapi's classification and of the controllers that word it.
package awsapitest

import (
	"fmt"

	"github.com/aws/smithy-go"
)

// EKSError is an EKS error as the SDK returns it: an API error with code and
// message inside the operation's error.
func EKSError(op, code, msg string) error {
	return &smithy.OperationError{ServiceID: "EKS", OperationName: op, Err: &smithy.GenericAPIError{Code: code, Message: msg}}
}

// STSError is an STS refusal met while the EKS client fetched credentials for a
// role, wrapped as aws-sdk-go-v2 wraps it.
func STSError(code, msg string) error {
	sts := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole", Err: &smithy.GenericAPIError{Code: code, Message: msg}}
	return &smithy.OperationError{ServiceID: "EKS", OperationName: "CreateAccessEntry",
		Err: fmt.Errorf("get identity: get credentials: failed to refresh cached credentials, %w", sts)}
}
