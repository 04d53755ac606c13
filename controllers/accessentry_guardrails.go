package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
	"github.com/eksaccess/eks-access-operator/internal/guardrails"
	"github.com/eksaccess/eks-access-operator/internal/plan"
)

// checkGuardrails holds the object to its cluster's guardrails. An AccessEntry in
// one of the operator's trusted namespaces is honoured without rules (unless
// --require-cluster-config asks for a ClusterAccessConfig); any other is honoured
// only when a rule of its cluster's ClusterAccessConfig admits its namespace and
// allows everything it asks for (guardrails.Judge). A refused object's own entry is
// brought down to what the rules allow (revoke), and the pass stops NotPermitted.
// Reads the namespace's labels when a rule selects namespaces by label.
func (r *AccessEntryReconciler) checkGuardrails(ctx context.Context, p *entryPass) error {
	ns, cluster := p.ae.Namespace, p.ae.Spec.ClusterName
	trusted := guardrails.Trusted(ns, r.TrustedNamespaces)
	if !trusted {
		under := "none"
		if p.cac != nil {
			under = fmt.Sprintf("%s/%d", p.cac.UID, p.cac.Generation)
		}
		prev, seen := r.judgedUnder.Load(p.ae.UID)
		p.ruleChanged = seen && prev != under
		defer func() {
			if !p.turnAsked {
				// Judged: a rule change is news only until acted on.
				r.judgedUnder.Store(p.ae.UID, under)
			}
		}()
	}
	switch {
	case p.cac == nil && trusted && r.RequireClusterConfig:
		return r.revoke(ctx, p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: fmt.Sprintf(
			"no ClusterAccessConfig for cluster %s, and this operator requires one (--require-cluster-config). Fix: ask the platform team to create it", cluster)})
	case p.cac == nil && !trusted:
		return r.revoke(ctx, p, guardrailRefusal{enforcement: v1.EnforcementRevoke, msg: fmt.Sprintf(
			"namespace %s is not one the operator trusts (--trusted-namespaces: %s), and there is no ClusterAccessConfig for cluster %s to admit it. "+
				"Fix: ask the platform team to create a ClusterAccessConfig for cluster %s with a rule in spec.guardrails.rules that admits namespace %s",
			ns, strings.Join(r.TrustedNamespaces, ", "), cluster, cluster, ns)})
	case trusted:
		p.ae.Status.Revoked = nil
		return nil
	}
	req, err := r.tenantRequest(ctx, p)
	if err != nil {
		return err
	}
	cfg := p.view.cfg
	if req.Places, err = r.places(ctx, p.ae, cfg); err != nil {
		return err
	}
	v, err := r.judge(ctx, p.ae, cfg, req)
	if err != nil {
		return err
	}
	if v.Allowed() {
		p.verdict = &v
		p.ae.Status.Revoked = nil
		return nil
	}
	logOverlaps(ctx, p, v)
	err = r.revoke(ctx, p, guardrailRefusal{verdict: &v, enforcement: p.cac.Spec.Guardrails.Enforcement, msg: v.Message()})
	if req.Reserved != "" && p.ae.Status.Identity == nil {
		// The tenant's claim is gone (or never was): the platform's object may
		// create the entry now.
		r.wakeDeclarers(ctx, p.ae)
	}
	return err
}

// tenantRequest is what a tenant object asks of the guardrails: its spec, its
// namespace's labels when a rule selects by label, and whether its principal is
// reserved for the platform (reservedFor; the reason is logged, the tenant is
// told only that it is reserved).
func (r *AccessEntryReconciler) tenantRequest(ctx context.Context, p *entryPass) (guardrails.Request, error) {
	view, err := r.tenantViewOf(ctx, p)
	if err != nil {
		return guardrails.Request{}, err
	}
	req := guardrails.RequestFor(p.ae, view.labels)
	why, err := r.claims().reservedFor(ctx, p.ae, p.cac)
	if err != nil {
		return guardrails.Request{}, err
	}
	if why != "" {
		req.Reserved = reservedToTenants
		log := ctrl.LoggerFrom(ctx)
		if p.readyBefore == string(metav1.ConditionFalse)+"/"+v1.ReasonNotPermitted {
			log = log.V(1) // said when the object was first refused: rechecks add nothing
		}
		log.Info("a tenant names a principal reserved for the platform", "principal", p.ae.Principal(), "why", why)
	}
	return req, nil
}

// revoke brings what the object's own entry holds down to what the guardrails
// allow, then stops the pass NotPermitted with msg. The whole entry goes when the
// verdict allows no entry (no rule, or a rule that refuses the principal or type);
// otherwise the policies, groups and username the rule refuses are removed and the
// rest is kept as the spec says. Only an entry the object owns is touched. With
// enforcement Report nothing is written, and status says what Revoke would remove.
func (r *AccessEntryReconciler) revoke(ctx context.Context, p *entryPass, f guardrailRefusal) error {
	v, msg, report := f.verdict, f.msg, f.enforcement == v1.EnforcementReport
	refuse := func(msg string) error { return stall(v1.ReasonNotPermitted, jitter(r.RecheckInterval, 0.1), "%s", msg) }
	obs, err := r.ownedEntry(ctx, p, msg)
	switch {
	case errors.Is(err, errNoTurnYet):
		p.turnAsked = true
		// Refused, but what the entry holds is still to be removed: Reconciling,
		// not Stalled, so that the pass the budget starts when the turn comes
		// (it puts the object back in the queue) is not taken for a recheck.
		return retryAfter(v1.ReasonNotPermitted, rateLimitedAfter+30*time.Second, "%s; what its EKS access entry holds is removed once the operator's budget of EKS calls gives it a turn", msg)
	case err != nil:
		return err
	case obs == nil:
		if len(p.ae.Status.Revoked) > 0 && !report {
			msg += "; revoked: " + strings.Join(p.ae.Status.Revoked, ", ")
		}
		return refuse(msg)
	case v == nil || !v.EntryAllowed:
		return r.revokeEntry(ctx, p, f)
	}
	p.obs = obs
	desired := v.Restrict(plan.DesiredFor(p.ae, p.id, r.InstanceID))
	pl := plan.Compute(desired, *obs, p.ae.Status.ManagedTags)
	revoked := revokedBy(pl, *obs, p.id.PrincipalARN)
	switch {
	case len(revoked) == 0:
		recordObserved(p.ae, obs)
		if len(p.ae.Status.Revoked) > 0 && !report {
			msg += "; revoked: " + strings.Join(p.ae.Status.Revoked, ", ")
		}
		if !pl.Empty() && !report {
			// What the rule allows drifted: put it back; the refused parts stay out.
			if err := r.write(ctx, p, desired, pl); err != nil {
				return err
			}
		}
		return refuse(msg)
	case report:
		p.ae.Status.Revoked = revoked
		recordObserved(p.ae, obs)
		return refuse(msg + "; with enforcement Revoke the operator would remove " + strings.Join(revoked, ", "))
	}
	if err := r.write(ctx, p, desired, pl); err != nil {
		return err
	}
	p.ae.Status.Revoked = union(p.ae.Status.Revoked, revoked)
	p.event(corev1.EventTypeWarning, "Revoked", "removed %s from the EKS access entry: %s", strings.Join(revoked, ", "), msg)
	if after, err := r.observe(ctx, p); err == nil && after != nil {
		recordObserved(p.ae, after)
	}
	return refuse(msg + "; revoked: " + strings.Join(revoked, ", "))
}

// guardrailRefusal is why the guardrails refuse an object: the verdict (nil when no
// rule applies at all), the enforcement, and the message.
type guardrailRefusal struct {
	verdict     *guardrails.Verdict
	enforcement v1.Enforcement
	msg         string
}

// revokeEntry deletes the object's own entry, which the guardrails allow none
// of (with enforcement Report, says it would), and stops the pass NotPermitted.
func (r *AccessEntryReconciler) revokeEntry(ctx context.Context, p *entryPass, f guardrailRefusal) error {
	what := fmt.Sprintf("the EKS access entry of %s", p.id.PrincipalARN)
	if f.enforcement == v1.EnforcementReport {
		p.ae.Status.Revoked = []string{what}
		return stall(v1.ReasonNotPermitted, jitter(r.RecheckInterval, 0.1), "%s", f.msg+"; with enforcement Revoke the operator would delete "+what)
	}
	if _, err := r.remove(ctx, p, p.at(), false); err != nil {
		return err
	}
	if err := r.resetStatus(ctx, p, false); err != nil {
		return err
	}
	p.ae.Status.Revoked = []string{what}
	p.event(corev1.EventTypeWarning, "Revoked", "deleted %s: %s", what, f.msg)
	return stall(v1.ReasonNotPermitted, jitter(r.RecheckInterval, 0.1), "%s", f.msg+"; revoked: "+what)
}

// revokedBy names what a plan takes away from an entry: the policies it
// disassociates, and the groups and custom username its update drops.
func revokedBy(pl plan.Plan, obs plan.Observed, principal string) []string {
	var out []string
	for _, arn := range pl.Disassociate {
		out = append(out, "access policy "+policyName(arn))
	}
	if u := pl.Update; u != nil {
		for _, g := range obs.Groups {
			if !slices.Contains(u.Groups, g) {
				out = append(out, fmt.Sprintf("group %q", g))
			}
		}
		if u.Username == nil && obs.Username != awsarn.DefaultUsername(principal) {
			out = append(out, fmt.Sprintf("username %q", obs.Username))
		}
	}
	return out
}

// ownedEntry is the object's own entry of its current identity as EKS shows it;
// nil when status records none or EKS holds none that is the object's. An entry
// the object retained when it moved away, and is back on now, is its own again:
// it is claimed as the current one (claim), so that what the rules no longer allow
// is revoked from it too, not kept because the object was elsewhere for a while.
func (r *AccessEntryReconciler) ownedEntry(ctx context.Context, p *entryPass, refusal string) (*plan.Observed, error) {
	st := &p.ae.Status
	current := st.Identity != nil && *st.Identity == p.id
	if p.id.PrincipalARN == "" || !current && (st.Identity != nil || len(st.RetainedEntries) == 0) {
		return nil, nil
	}
	if err := r.takeRevocationTurn(p, refusal); err != nil {
		return nil, err
	}
	obs, err := r.observe(ctx, p)
	if err != nil {
		return nil, r.eksOutcome(p.id, err)
	}
	if obs == nil || !plan.Owns(*obs, plan.RecordOf(st, p.id), r.owner(p.ae)) {
		return nil, nil
	}
	if !current {
		// A retained entry another object has taken since is not the object's:
		// it is refused for its own reasons, not put in Conflict over that one.
		if by, err := r.recordedBy(ctx, p.ae, obs.ARN); err != nil || by != nil {
			return nil, err
		}
		if err := r.claim(ctx, p, obs, false); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// errNoTurnYet: the account's budget has no tokens for the pass yet.
var errNoTurnYet = errors.New("waiting for a turn in the account's budget")

// takeRevocationTurn reserves the reads of a refused object's own entry from
// its account's budget: a refused object reads EKS no sooner than its class
// allows, whatever starts its passes (a tenant rewriting its labels at any
// rate, say). Its recheck for the refusal it is stalled on already, at the same
// generation, is background work; a refusal its own new spec brings is
// foreground, in its namespace's turn; any other new refusal (the platform
// narrowed the rule, say) is revocation work, ahead of everything else.
func (r *AccessEntryReconciler) takeRevocationTurn(p *entryPass, refusal string) error {
	if r.AWS.Budget() == nil {
		return nil
	}
	p.recheck = stalledAtGeneration(p.ae) && readyReason(p.ae) == v1.ReasonNotPermitted &&
		strings.HasPrefix(meta.FindStatusCondition(p.ae.Status.Conditions, v1.ConditionStalled).Message, refusal)
	// A refusal from outside the spec (the platform changed the rule, or a
	// reservation or a limit came) is revocation work, ahead of all other: the
	// tenant cannot bring it about at will, so it cannot starve others with it.
	// One its own spec change brings waits its namespace's turn.
	p.revoking = !p.recheck && (p.ruleChanged || p.ae.Status.ObservedGeneration == p.ae.Generation)
	// Without tokens the object says it is refused (NotPermitted, Reconciling)
	// meanwhile, not take's RateLimited.
	if g, _ := r.take(p, awsapi.BudgetKey(p.target), 2); g != nil {
		p.slot.Grant = g
		return nil
	}
	return errNoTurnYet
}

// adoptionProblems says why the object may not take over an existing entry: one a
// protect pattern names, the one EKS made for the cluster's creator, or, outside
// the trusted namespaces, one EKS made for its nodes or components
// (guardrails.MadeByEKS), one the rule does not allow adopting, or one that holds
// more than the rule allows.
func (r *AccessEntryReconciler) adoptionProblems(p *entryPass, obs *plan.Observed) []string {
	var out []string
	if cac := p.cac; cac != nil {
		if guardrails.Protected(cac.Spec.UnmanagedEntries.Protect, p.id.PrincipalARN) {
			out = append(out, fmt.Sprintf("spec.unmanagedEntries.protect of ClusterAccessConfig %s protects it", cac.Name))
		}
		if c := cac.Status.ClusterCreatedAt; c != nil && guardrails.MadeForCreator(*obs, c.Time) {
			out = append(out, "EKS made it for the cluster's creator")
		}
	}
	if p.verdict != nil {
		// A tenant never takes over what EKS made for its nodes or components.
		var created time.Time
		if p.cac != nil && p.cac.Status.ClusterCreatedAt != nil {
			created = p.cac.Status.ClusterCreatedAt.Time
		}
		if why := guardrails.MadeByEKS(p.id.PrincipalARN, *obs, created); why != "" && !slices.Contains(out, "EKS made it for the cluster's creator") {
			out = append(out, "EKS made it, or made it for its own components: "+why)
		}
		out = append(out, p.verdict.JudgeAdoption(*obs)...)
	}
	return out
}

// tenantView is what the guardrails read of a tenant object's world: its
// namespace's labels and its cluster's config.
type tenantView struct {
	cac    *v1.ClusterAccessConfig
	labels map[string]string
	cfg    guardrails.Config
}

// tenantViewOf reads the pass's tenantView, once for its config: both the
// permission-set lookup (setOutOfReach) and the guardrails judge by it.
func (r *AccessEntryReconciler) tenantViewOf(ctx context.Context, p *entryPass) (*tenantView, error) {
	if p.view != nil && p.view.cac == p.cac {
		return p.view, nil
	}
	labels, err := r.namespaceLabels(ctx, p.ae.Namespace, p.cac)
	if err != nil {
		return nil, err
	}
	cfg, err := clusterGuardrails(ctx, r.Client, p.cac)
	if err != nil {
		return nil, err
	}
	p.view = &tenantView{cac: p.cac, labels: labels, cfg: cfg}
	return p.view, nil
}

// namespaceLabels are the labels of a namespace, read when a rule of the config
// selects namespaces by label.
func (r *AccessEntryReconciler) namespaceLabels(ctx context.Context, name string, cac *v1.ClusterAccessConfig) (map[string]string, error) {
	return r.namespaceLabelsFrom(ctx, r.Client, name, cac)
}

// namespaceLabelsFrom is namespaceLabels as reader sees the namespace.
func (r *AccessEntryReconciler) namespaceLabelsFrom(ctx context.Context, reader client.Reader, name string, cac *v1.ClusterAccessConfig) (map[string]string, error) {
	if !slices.ContainsFunc(cac.Spec.Guardrails.Rules, func(g v1.GrantRule) bool { return g.Namespaces.Selector != nil }) {
		return nil, nil
	}
	ns := &corev1.Namespace{}
	if err := reader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, err
	}
	return ns.Labels, nil
}

// guardrailConfig is what the guardrails know of a ClusterAccessConfig.
func guardrailConfig(cac *v1.ClusterAccessConfig) guardrails.Config {
	return guardrails.Config{Name: cac.Name, Rules: cac.Spec.Guardrails.Rules, MaxTenantEntries: int(cac.Spec.Guardrails.MaxTenantEntries), Account: cac.Status.AccountID}
}

func policyName(arn string) string {
	if p, ok := awsarn.ParsePolicy(arn); ok {
		return p.Name
	}
	return arn
}

// judge holds a tenant object to the rules: a request's grant to the
// time-bound ones (grantOf), any other object to the standing ones.
func (r *AccessEntryReconciler) judge(ctx context.Context, ae *v1.AccessEntry, cfg guardrails.Config, req guardrails.Request) (guardrails.Verdict, error) {
	ar, err := r.grantOf(ctx, ae)
	if err != nil || ar == nil {
		return guardrails.Judge(cfg, req), err
	}
	return guardrails.JudgeGrant(cfg, req, ar.Spec.Duration.Duration), nil
}

// grantOf is the AccessRequest whose grant the object is, nil when it is not
// one. Only the operator writes a request's status (tenants get no RBAC on
// accessrequests/status), so the object is a grant only when it is what that
// status says was granted: controlled by the request (same UID), named in its
// status.entry while it is Granted and not being deleted (withdrawn), and with
// the spec of its grant, expiry included. A copy, an object that points at a request it was not made for,
// or a grant someone edited (a later expiresAt, one more policy) is judged as
// any standing AccessEntry, which no time-bound rule allows.
func (r *AccessEntryReconciler) grantOf(ctx context.Context, ae *v1.AccessEntry) (*v1.AccessRequest, error) {
	owner := metav1.GetControllerOf(ae)
	if owner == nil || owner.Kind != "AccessRequest" || owner.APIVersion != v1.GroupVersion.String() {
		return nil, nil
	}
	ar := &v1.AccessRequest{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ae.Namespace, Name: owner.Name}, ar); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if ar.UID != owner.UID || !ar.DeletionTimestamp.IsZero() || ar.Status.Phase != v1.RequestGranted || ar.Status.Entry != ae.Name || ar.Status.ExpiresAt == nil {
		return nil, nil
	}
	// A grant adopts nothing: with eksaccess.io/adopt it is no grant until the
	// request's controller has taken the annotation off again.
	if !equality.Semantic.DeepEqual(grantEntry(ar, time.Time{}).Spec, ae.Spec) || ae.Annotations[v1.AdoptAnnotation] != "" {
		return nil, nil
	}
	return ar, nil
}
