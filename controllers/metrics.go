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

// The event reader's metrics (--events-queue-url).
var (
	eventsReceived = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_events_received_total",
		Help: "Messages received from the events queue.",
	})
	eventsHandled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_events_total",
		Help: "Events by what became of them: matched (an AccessEntry's entry verified at once), own (the operator's own write: no read), unmanaged (a ClusterAccessConfig's pruning decision started), ignored (another call, a refused call, an entry nobody manages), unparseable (logged and dropped).",
	}, []string{"outcome"})
	eventsQueueUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eks_access_operator_events_queue_up",
		Help: "1 while the events queue answers, 0 when it has not for 45 s (the sweeps then run at their no-events periods).",
	})
	eventsFlowing = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "eks_access_operator_events_flowing",
		Help: "1 while EKS's events of an account and region reach the queue (one arrived, and none of the operator's writes waits for its event beyond --events-max-delay), else 0.",
	}, []string{"account", "region"})
	eventsProbes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_events_probes_total",
		Help: "Writes that change nothing (a tag no entry carries removed), made where events have been quiet for --events-probe-interval, to see the way to the queue is open.",
	})
	eventRepair = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eks_access_operator_event_repair_seconds",
		Help:    "Seconds from receiving an event that names a managed entry to that entry read and matching its spec again.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
	})
)

// Time-bound grants (spec.expiresAt).
var (
	grantsExpired = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_grants_expired_total",
		Help: "EKS access entries deleted because their AccessEntry's spec.expiresAt passed.",
	})
	expiryRevocation = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eks_access_operator_expiry_revocation_seconds",
		Help:    "Seconds from an AccessEntry's spec.expiresAt to its EKS access entry deleted.",
		Buckets: []float64{1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300},
	})
)

// AccessRequests.
var (
	requestsDecided = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eks_access_operator_access_requests_total",
		Help: "AccessRequests that reached a phase: Pending, Granted, Denied, Expired, Refused or Withdrawn.",
	}, []string{"phase"})
	breakGlassGrants = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eks_access_operator_break_glass_total",
		Help: "AccessRequests granted with no approval, by a requester a rule's timeBound.breakGlass names.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(requestsDecided, breakGlassGrants)
	ctrlmetrics.Registry.MustRegister(grantsExpired, expiryRevocation)
	ctrlmetrics.Registry.MustRegister(eventsReceived, eventsHandled, eventsQueueUp, eventsFlowing, eventsProbes, eventRepair)
	ctrlmetrics.Registry.MustRegister(driftCorrections, budgetWaiting, driftFound, oldestVerification)
	ctrlmetrics.Registry.MustRegister(awsapi.Collectors()...)
}
