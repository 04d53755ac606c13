package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// condSet holds the kstatus conditions of an object, as both kinds hold them:
// Ready always present, Reconciling and Stalled only while True, and
// observedGeneration once a generation was fully handled.
type condSet struct {
	list       *[]metav1.Condition
	observed   *int64
	generation int64
}

func accessEntryConditions(ae *v1.AccessEntry) condSet {
	return condSet{list: &ae.Status.Conditions, observed: &ae.Status.ObservedGeneration, generation: ae.Generation}
}

func clusterConfigConditions(cac *v1.ClusterAccessConfig) condSet {
	return condSet{list: &cac.Status.Conditions, observed: &cac.Status.ObservedGeneration, generation: cac.Generation}
}

// ready sets Ready=True and clears Reconciling and Stalled.
func (c condSet) ready(msg string) {
	c.readyAs(v1.ReasonSynced, msg)
}

// readyAs sets Ready=True for reason and clears Reconciling and Stalled.
func (c condSet) readyAs(reason, msg string) {
	c.set(v1.ConditionReady, metav1.ConditionTrue, reason, msg)
	meta.RemoveStatusCondition(c.list, v1.ConditionReconciling)
	meta.RemoveStatusCondition(c.list, v1.ConditionStalled)
	*c.observed = c.generation
}

// reconciling sets Ready=False and Reconciling=True with the same reason; it keeps
// the time Reconciling started, which the wait backoff measures from.
func (c condSet) reconciling(reason, msg string) {
	c.set(v1.ConditionReady, metav1.ConditionFalse, reason, msg)
	c.set(v1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	meta.RemoveStatusCondition(c.list, v1.ConditionStalled)
}

// stalled sets Ready=False and Stalled=True: a person has to act. The generation
// counts as handled, so that kstatus (Flux) reports Failed rather than waiting.
func (c condSet) stalled(reason, msg string) {
	*c.observed = c.generation
	c.set(v1.ConditionReady, metav1.ConditionFalse, reason, msg)
	c.set(v1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	meta.RemoveStatusCondition(c.list, v1.ConditionReconciling)
}

func (c condSet) set(typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(c.list, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.generation})
}
