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
)

func init() {
	ctrlmetrics.Registry.MustRegister(eksRequests, driftCorrections)
}
