package controllers

import (
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (

	// driftCorrections counts out-of-band changes to owned entries that were put back.
	driftCorrections = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_drift_corrections_total",
		Help: "Out-of-band changes to EKS access entries the operator owns that it put back (an entry recreated, or a plan applied to an unchanged spec).",
	})

	// budgetWaiting is how much work waits for each account's budget, by class.
	budgetWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "eks_access_operator_budget_waiting",
		Help: "AccessEntries waiting for their account and region's budget of EKS calls, by class (revocation: access a rule no longer allows, first; foreground: changes and healing; background: verification).",
	}, []string{"account", "region", "class"})

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
	ctrlmetrics.Registry.MustRegister(driftCorrections, budgetWaiting, driftFound, oldestVerification)
	ctrlmetrics.Registry.MustRegister(awsapi.Collectors()...)
}
