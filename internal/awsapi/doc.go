// Package awsapi is the operator's AWS side: the clients of EKS, STS and IAM, the
// metering of every call against its account's budget, the one classification of
// AWS errors, and the conversions between the SDK's types and the plan's. Callers
// speak the plan's types (plan.Observed, plan.Plan) and v1alpha1's identities;
// no other package of the operator calls the SDK (internal/onboard, the kubectl
// plugin's import, reads entries with it, and classifies errors here).
package awsapi
