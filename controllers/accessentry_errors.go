package controllers

import (
	"time"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
)

// eksOutcome turns an AWS error met while working on the entry of id into the
// outcome that tells the user what happened and what fixes it. classify is the one
// place that reads the SDK's error types; this is the one place that words them.
// Only a refusal of what the spec says is terminal: everything caused from outside
// the spec is checked again, so that it recovers by itself once the cause is gone.
func (r *AccessEntryReconciler) eksOutcome(id v1.EntryIdentity, err error) error {
	msg := awsapi.Message(err)
	switch awsapi.Classify(err) {
	case awsapi.InvalidSpec:
		return invalid(v1.ReasonInvalidSpec, err, "EKS refused the entry: %s; fix the spec", msg)
	case awsapi.Refused:
		cause := "the cause is outside the spec (the message says what)"
		if awsapi.Operation(err) == "eks:TagResource" {
			cause = "tags set on the entry outside this object leave no room for the spec's: remove those nobody needs " +
				"(aws eks untag-resource --resource-arn with the ARN in status.accessEntryARN) or declare fewer in spec.tags"
		}
		return stall(v1.ReasonRefusedByEKS, r.RecheckInterval,
			"EKS refused %s: %s. Fix: %s; the operator tries again every %s and keeps correcting the rest of the entry meanwhile",
			awsapi.Operation(err), msg, cause, r.RecheckInterval)
	case awsapi.ModeNotSupported:
		return stall(v1.ReasonAuthenticationModeNotSupported, r.RecheckInterval,
			"cluster %s only authenticates through the aws-auth ConfigMap; switch its authentication mode to API_AND_CONFIG_MAP or API "+
				"(aws eks update-cluster-config --name %s --access-config authenticationMode=API_AND_CONFIG_MAP) and the entry will be created",
			id.ClusterName, id.ClusterName)
	case awsapi.ClusterNotFound:
		return stall(v1.ReasonClusterNotFound, r.RecheckInterval, "EKS has no cluster %s in region %s for the operator's account; check spec.clusterName and spec.region", id.ClusterName, id.Region)
	case awsapi.LimitExceeded:
		return stall(v1.ReasonLimitExceeded, r.RecheckInterval,
			"cluster %s has reached its quota of access entries (%s); delete entries it no longer needs "+
				"(a ClusterAccessConfig with unmanagedEntries.policy Delete removes the ones no AccessEntry declares) or ask AWS for a higher quota, "+
				"and the entry will be created", id.ClusterName, msg)
	case awsapi.AccessDenied:
		return stall(v1.ReasonAccessDenied, r.RecheckInterval, "the operator's IAM identity may not call %s: %s; grant it in the operator's IAM policy", awsapi.Operation(err), msg)
	case awsapi.AssumeRoleDenied:
		return stall(v1.ReasonAccessDenied, r.RecheckInterval, "%s", assumeRoleAdvice(err))
	case awsapi.BadCredentials:
		return stall(v1.ReasonAccessDenied, r.RecheckInterval,
			"AWS does not accept the operator's credentials: %s; check the operator's IAM role (IRSA or EKS Pod Identity) or access keys", msg)
	case awsapi.InvalidPrincipal:
		return waitFor(v1.ReasonPrincipalNotFound, "EKS does not know %s yet: a new IAM role or user takes a while to propagate and is then picked up by itself; "+
			"if it does not exist, create it in IAM or correct spec.principalARN (%s)", id.PrincipalARN, msg)
	case awsapi.NotFound:
		return waitFor(v1.ReasonWaitingForEKS, "EKS does not show the access entry yet: %s", msg)
	case awsapi.Throttled:
		// Expected under load: no error log, and never a stall.
		return retryAfter(v1.ReasonThrottled, r.throttledRetry(), "EKS is throttling the operator; retrying with backoff")
	case awsapi.InUse:
		return waitFor(v1.ReasonWaitingForEKS, "EKS reports the access entry in use: %s", msg)
	}
	return failed(v1.ReasonEKSError, err, "EKS call failed, retrying: "+msg)
}

// assumeRoleAdvice words an STS refusal to let the operator assume a role: which
// role, STS's message, and the three things that decide it.
func assumeRoleAdvice(err error) string {
	role := awsapi.AssumedRole(err)
	if role == "" {
		role = "the ClusterAccessConfig's spec.roleARN"
	}
	return "STS refused to let the operator assume " + role + ": " + awsapi.Message(err) +
		". Check: the role's trust policy names the operator's IAM role (or account) as a principal allowed sts:AssumeRole; " +
		"its sts:ExternalId condition, if any, equals the ClusterAccessConfig's spec.externalID; " +
		"and the operator's own IAM policy allows sts:AssumeRole on the role"
}

// throttledRetry is when a pass EKS throttled is tried again. With a budget,
// soon: the throttle cut the account's rate there, and the retry waits its turn
// among the account's work, in which the objects waiting longest are not last.
// The backoff of other retries, which grows with the time an object has been
// reconciling, put exactly those last: a minute-old object waited 20 s more.
// Without a budget (tests only), that backoff (0).
func (r *AccessEntryReconciler) throttledRetry() time.Duration {
	if r.AWS == nil || r.AWS.Budget() == nil {
		return 0
	}
	return jitter(time.Second, 1)
}
