package eksemulator

import (
	"fmt"
	"net/http"
)

// apiError is an EKS error response: the HTTP status, the error code the SDK
// maps to a typed error, and the message.
type apiError struct {
	status  int
	code    string
	message string
	cluster string // clusterName member, for the error types that have one
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

func invalidRequest(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "InvalidRequestException", format, args...)
}

func resourceNotFound(format string, args ...any) *apiError {
	return newAPIError(http.StatusNotFound, "ResourceNotFoundException", format, args...)
}

func resourceLimitExceeded(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "ResourceLimitExceededException", format, args...)
}

func resourceInUse(format string, args ...any) *apiError {
	return newAPIError(http.StatusConflict, "ResourceInUseException", format, args...)
}

// badRequest and notFound are the errors the tagging operations declare.
func badRequest(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, "BadRequestException", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return newAPIError(http.StatusNotFound, "NotFoundException", format, args...)
}

func clusterNotFound(name string) *apiError {
	return resourceNotFound("No cluster found for name: %s.", name)
}

// withCluster fills the clusterName member the EKS error shapes carry.
func (e *apiError) withCluster(name string) *apiError {
	e.cluster = name
	return e
}
