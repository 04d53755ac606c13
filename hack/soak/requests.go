package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/eksemulator"
	"github.com/eksaccess/eks-access-operator/internal/testenv"
)

// Time-bound grants: a requester of requestNS asks for ClusterAdmin on a
// cluster for a minute or more, under the oncall rule every rule set holds;
// an approver of the oncall group approves most requests at a random moment,
// denies some and leaves some pending, and the requester withdraws some. The
// grants so expire at random moments, amid the faults, the SIGKILLs and the
// rule changes. After quiescence (every grant's expiry behind it), EKS holds
// nothing a request granted, in any account; a request never approved never
// reached EKS; and no grant reached EKS before its approval was made.
const (
	requestNS   = "soak-oncall"
	requester   = "soak-requester"
	approver    = "soak-approver"
	oncallGroup = "soak-oncall"
	// oncallPrefix names the requests' principals: a fresh one per request.
	oncallPrefix = "arn:aws:iam::" + account + ":role/soak/oncall-"
)

// oncallRule lets requestNS ask for ClusterAdmin for at most ten minutes, with
// one approval from oncallGroup within 90 s of asking.
func oncallRule() v1.GrantRule {
	return v1.GrantRule{Name: "oncall", Namespaces: v1.RuleNamespaces{Names: []string{requestNS}},
		Principals:     v1.RulePrincipals{ARNs: []v1.Pattern{oncallPrefix + "*"}},
		AccessPolicies: []v1.PolicyGrant{{PolicyARN: policyARN("AmazonEKSClusterAdminPolicy"), ClusterScope: true}},
		TimeBound: &v1.TimeBoundGrants{MaxDuration: metav1.Duration{Duration: 10 * time.Minute}, Approvals: 1,
			Approvers: v1.Approvers{Groups: []string{oncallGroup}}, PendingFor: &metav1.Duration{Duration: 90 * time.Second}}}
}

// asked is a request the requester made, and what became of it on the
// driver's side.
type asked struct {
	ar *v1.AccessRequest
	// decided is "approved", "denied" or "" (left pending); approvedAt is when
	// the approval was sent.
	decided    string
	approvedAt time.Time
	withdrawn  bool
}

// requests drives the requester and the approver.
type requests struct {
	asker, approver client.Client
	made            []*asked
	durations       [2]time.Duration // the shortest and longest duration asked
}

func newRequests(ctx context.Context, w *testenv.World, shortest, longest time.Duration) (*requests, error) {
	r := &requests{durations: [2]time.Duration{shortest, longest}}
	for _, p := range []struct {
		c      *client.Client
		name   string
		groups []string
	}{{&r.asker, requester, []string{"developers"}}, {&r.approver, approver, []string{oncallGroup}}} {
		u, err := testenv.Person{Name: p.name, Groups: p.groups, Rules: testenv.RequesterRules, Namespaces: []string{requestNS}}.Add(ctx, w.Env, w.Config)
		if err != nil {
			return nil, fmt.Errorf("the soak's %s: %w", p.name, err)
		}
		if *p.c, err = newClient(u.Config()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// step asks for a grant, decides one request still undecided (approve 70%,
// deny 15%, leave pending 15%), and now and then withdraws one.
func (r *requests) step(ctx context.Context, rng *rand.Rand) (string, error) {
	if err := r.decide(ctx, rng); err != nil {
		return "request decided", err
	}
	if rng.IntN(10) == 0 {
		if name, err := r.withdraw(ctx, rng); name != "" || err != nil {
			return "request withdrawn", err
		}
	}
	n := len(r.made)
	d := r.durations[0] + time.Duration(rng.Int64N(int64(r.durations[1]-r.durations[0])+1)).Truncate(time.Second)
	ar := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("req-%03d", n), Namespace: requestNS}, Spec: v1.AccessRequestSpec{
		Requester: requester, Duration: metav1.Duration{Duration: d}, Reason: fmt.Sprintf("SOAK-%d", n),
		// Mostly the first cluster: the second's config is deleted now and then, and a request then is Refused.
		Grant: v1.AccessEntrySpec{ClusterName: clusters[min(1, rng.IntN(3)/2)], PrincipalARN: fmt.Sprintf("%s%03d", oncallPrefix, n),
			AccessPolicies: []v1.AccessPolicy{{PolicyARN: policyARN("AmazonEKSClusterAdminPolicy"), AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}}}}}
	if err := r.asker.Create(ctx, ar); err != nil {
		return "request", err
	}
	r.made = append(r.made, &asked{ar: ar})
	return "request", nil
}

// decide decides the oldest request not decided yet, if any, at random.
func (r *requests) decide(ctx context.Context, rng *rand.Rand) error {
	i := slices.IndexFunc(r.made, func(a *asked) bool { return a.decided == "" && !a.withdrawn })
	if i < 0 {
		return nil
	}
	a, roll := r.made[i], rng.IntN(100)
	decision := v1.Approve
	switch {
	case roll >= 85:
		a.decided = "left pending"
		return nil
	case roll >= 70:
		decision = v1.Deny
	}
	sent := time.Now()
	err := r.approver.Create(ctx, &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{Name: a.ar.Name + "-" + strings.ToLower(string(decision)), Namespace: requestNS},
		Spec: v1.AccessApprovalSpec{Request: a.ar.Name, RequestUID: string(a.ar.UID), Decision: decision, Approver: approver, ApproverGroups: []string{oncallGroup}}})
	if err != nil {
		// The API server may be restarting: it may have made the approval or not.
		a.decided = "unknown"
		return err
	}
	a.decided = map[v1.DecisionKind]string{v1.Approve: "approved", v1.Deny: "denied"}[decision]
	a.approvedAt = sent
	return nil
}

// withdraw deletes a request at random; its grant (the AccessEntry it
// controls, which no garbage collector removes here) is then no grant, and
// what it holds is revoked.
func (r *requests) withdraw(ctx context.Context, rng *rand.Rand) (string, error) {
	var open []*asked
	for _, a := range r.made {
		if !a.withdrawn {
			open = append(open, a)
		}
	}
	if len(open) == 0 {
		return "", nil
	}
	a := open[rng.IntN(len(open))]
	a.withdrawn = true
	return a.ar.Name, client.IgnoreNotFound(r.asker.Delete(ctx, a.ar))
}

// awaitExpiries waits until no approved request waits to be granted (at most
// timeout), then until the last grant's expiry has passed.
func (r *requests) awaitExpiries(ctx context.Context, k8s client.Client, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list := &v1.AccessRequestList{}
		if err := k8s.List(ctx, list, client.InNamespace(requestNS)); err != nil {
			return err
		}
		var waiting []string
		var last time.Time
		for _, ar := range list.Items {
			if at := ar.Status.ExpiresAt; at != nil && at.After(last) {
				last = at.Time
			}
			if a := r.find(ar.Name); a != nil && a.decided == "approved" && ar.Status.Phase == v1.RequestPending {
				waiting = append(waiting, ar.Name)
			}
		}
		if len(waiting) == 0 {
			if d := time.Until(last); d > 0 {
				say("waiting %s for the last requested grant's expiry", d.Round(time.Second))
				time.Sleep(d)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("approved requests still Pending after %s: %v", timeout, waiting)
		}
		time.Sleep(time.Second)
	}
}

func (r *requests) find(name string) *asked {
	for _, a := range r.made {
		if a.ar.Name == name {
			return a
		}
	}
	return nil
}

// check holds EKS to the requests, once every grant has expired: nothing a
// request named remains, a request never approved never reached EKS, and a
// grant never reached it before its approval was sent. It returns the
// problems, and a summary of how the requests ended.
func (r *requests) check(ctx context.Context, k8s client.Client, emu *eksemulator.Server, c *counts) ([]string, string, error) {
	list := &v1.AccessRequestList{}
	if err := k8s.List(ctx, list, client.InNamespace(requestNS)); err != nil {
		return nil, "", err
	}
	phases := map[string]int{}
	for _, ar := range list.Items {
		phases[string(ar.Status.Phase)]++
	}
	var problems []string
	var latest time.Duration
	revoked := 0
	for _, a := range r.made {
		principal := a.ar.Spec.Grant.PrincipalARN
		phases["withdrawn"] += boolInt(a.withdrawn)
		c.invariants++
		for _, acct := range []string{account, otherAccount} {
			for _, cl := range clusters {
				if _, ok := emu.Entry(acct, region, cl, principal); ok {
					problems = append(problems, fmt.Sprintf("%s: EKS (account %s, cluster %s) still holds the grant of %s, decided %q, every grant's expiry passed",
						a.ar.Name, acct, cl, principal, a.decided))
				}
			}
		}
		writes := emu.Writes(principal)
		created := slices.IndexFunc(writes, func(w eksemulator.Write) bool { return w.Op == "CreateAccessEntry" })
		c.invariants++
		switch {
		case created >= 0 && a.decided != "approved" && a.decided != "unknown":
			problems = append(problems, fmt.Sprintf("%s (%s): EKS got its grant at %s, and it was never approved", a.ar.Name, a.decided, writes[created].Time.UTC().Format(time.TimeOnly)))
		case created >= 0 && writes[created].Time.Before(a.approvedAt):
			problems = append(problems, fmt.Sprintf("%s: EKS got its grant at %s, before its approval was sent at %s", a.ar.Name,
				writes[created].Time.UTC().Format(time.StampMilli), a.approvedAt.UTC().Format(time.StampMilli)))
		}
		if late, ok := r.lateness(list, a.ar.Name, writes); ok {
			revoked++
			latest = max(latest, late)
		}
	}
	summary := fmt.Sprintf("%d made, ended %s; %d grants revoked at their expiry, the latest %s after it", len(r.made), counted(phases), revoked, latest.Round(100*time.Millisecond))
	return problems, summary, nil
}

// lateness is how long after the request's expiry its grant's entry was last
// deleted; false when the request was not granted, or its entry was not
// deleted from its expiry on (a withdrawn grant goes before).
func (r *requests) lateness(list *v1.AccessRequestList, name string, writes []eksemulator.Write) (time.Duration, bool) {
	i := slices.IndexFunc(list.Items, func(ar v1.AccessRequest) bool { return ar.Name == name })
	if i < 0 || list.Items[i].Status.ExpiresAt == nil {
		return 0, false
	}
	expiry := list.Items[i].Status.ExpiresAt.Time
	late, found := time.Duration(0), false
	for _, w := range writes {
		// Status times are whole seconds: a delete in the second of the expiry counts.
		if w.Op == "DeleteAccessEntry" && !w.Time.Before(expiry) {
			late, found = max(late, w.Time.Sub(expiry)), true
		}
	}
	return late, found
}
