package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// eksRequests counts every attempt of an EKS call, retries included.
	eksRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_eks_requests_total",
		Help: "AWS API calls (EKS, and the IAM reads of principal IDs) by operation and outcome (OK or the error code); each retry counts.",
	}, []string{"operation", "outcome"})

	// driftCorrections counts out-of-band changes to owned entries that were put back.
	driftCorrections = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_drift_corrections_total",
		Help: "Out-of-band changes to EKS access entries the operator owns that it put back (an entry recreated, or a plan applied to an unchanged spec).",
	})

	// eksThrottled counts EKS's throttling responses by account and region; each
	// slows the account's budget for a while.
	eksThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_eks_throttled_total",
		Help: "EKS calls EKS throttled, by account and region; each slows the operator's budget for that account and region.",
	}, []string{"account", "region"})

	// budgetSpent counts calls the operator did not make because the account's
	// budget had no token: the object was queued for its turn instead.
	budgetSpent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_budget_spent_total",
		Help: "EKS calls put off because the account and region's budget (--eks-qps) had no token; the object waits its turn.",
	}, []string{"account", "region"})

	// budgetWaiting is how much work waits for each account's budget, by class.
	budgetWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "eks_access_operator_budget_waiting",
		Help: "AccessEntries waiting for their account and region's budget of EKS calls, by class (foreground: changes and healing; background: verification).",
	}, []string{"account", "region", "class"})

	// backgroundCalls counts the EKS calls of drift detection by tier.
	backgroundCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_background_calls_total",
		Help: "EKS calls made to find drift, by tier: sweep (every entry of a cluster listed), watched (entries holding a watched policy listed), verify (one entry read in full).",
	}, []string{"tier"})

	// driftFound counts what the sweeps found, by tier.
	driftFound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_drift_found_total",
		Help: "Entries a sweep found changed out of band and sent to be healed, by tier (sweep: deleted; watched: a watched policy granted or removed).",
	}, []string{"tier"})

	// oldestVerification is the age of the least recently verified Ready entry.
	oldestVerification = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eks_access_operator_oldest_verification_seconds",
		Help: "Seconds since the least recently verified Ready AccessEntry was last read in full from EKS; stays under --verification-period when the background budget keeps up.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(eksRequests, driftCorrections, eksThrottled, budgetSpent, budgetWaiting, backgroundCalls, driftFound, oldestVerification)
}
