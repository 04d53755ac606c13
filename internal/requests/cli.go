package requests

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
)

// Ask is what `kubectl eksaccess request` asks for.
type Ask struct {
	Name, Namespace string
	Cluster, Region string
	Principal       string
	// Policies are NAME or ARN, each with ":ns1,ns2" for a namespace scope.
	Policies []string
	Groups   []string
	Username string
	Duration time.Duration
	Reason   string
}

// Who is the user the API server authenticates (a SelfSubjectReview).
type Who struct {
	User   string
	Groups []string
}

var policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+=,.@-]*$`)

// NewRequest builds the request of an Ask made by who: the API server's
// admission checks the requester and groups, the CRD the rest.
func NewRequest(a Ask, who Who) (*v1.AccessRequest, error) {
	if a.Cluster == "" || a.Principal == "" || a.Reason == "" || a.Duration <= 0 {
		return nil, fmt.Errorf("--cluster, --principal, --duration and --reason are required")
	}
	grant := v1.AccessEntrySpec{ClusterName: a.Cluster, Region: a.Region, PrincipalARN: a.Principal, Username: a.Username}
	for _, g := range a.Groups {
		grant.KubernetesGroups = append(grant.KubernetesGroups, v1.KubernetesGroup(g))
	}
	for _, p := range a.Policies {
		ap, err := parsePolicy(p)
		if err != nil {
			return nil, err
		}
		grant.AccessPolicies = append(grant.AccessPolicies, ap)
	}
	ar := &v1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace},
		Spec: v1.AccessRequestSpec{Requester: who.User, RequesterGroups: who.Groups, Grant: grant,
			Duration: metav1.Duration{Duration: a.Duration}, Reason: a.Reason}}
	if a.Name == "" {
		ar.GenerateName = strings.ToLower(strings.SplitN(who.User, "@", 2)[0])
		ar.GenerateName = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(ar.GenerateName, "-") + "-"
	}
	return ar, nil
}

// parsePolicy reads POLICY or POLICY:ns1,ns2, where POLICY is an access
// policy's name (AmazonEKSClusterAdminPolicy) or ARN.
func parsePolicy(s string) (v1.AccessPolicy, error) {
	arn, scope := s, ""
	start := 0
	if i := strings.Index(s, "cluster-access-policy/"); strings.HasPrefix(s, "arn:") && i >= 0 {
		start = i
	}
	if i := strings.Index(s[start:], ":"); i >= 0 {
		arn, scope = s[:start+i], s[start+i+1:]
	}
	if !strings.HasPrefix(arn, "arn:") {
		if !policyName.MatchString(arn) {
			return v1.AccessPolicy{}, fmt.Errorf("--policy %q: give an access policy's name (AmazonEKSViewPolicy) or ARN, and ':ns1,ns2' for a namespace scope", s)
		}
		arn = "arn:aws:eks::aws:cluster-access-policy/" + arn
	}
	ap := v1.AccessPolicy{PolicyARN: arn, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}}
	if scope != "" {
		ap.AccessScope.Type = v1.AccessScopeNamespace
		for _, ns := range strings.Split(scope, ",") {
			ap.AccessScope.Namespaces = append(ap.AccessScope.Namespaces, v1.ScopeNamespace(ns))
		}
	}
	return ap, nil
}

// NewDecision is who's decision on a request: approval or denial, for that
// request only (its UID).
func NewDecision(ar *v1.AccessRequest, d v1.DecisionKind, who Who, reason string) *v1.AccessApproval {
	return &v1.AccessApproval{ObjectMeta: metav1.ObjectMeta{GenerateName: ar.Name + "-", Namespace: ar.Namespace},
		Spec: v1.AccessApprovalSpec{Request: ar.Name, RequestUID: string(ar.UID), Decision: d, Approver: who.User,
			ApproverGroups: who.Groups, Reason: reason}}
}

// Describe says in one line what a request asks, by whom, and where it stands.
func Describe(ar *v1.AccessRequest) string {
	var policies []string
	for _, p := range ar.Spec.Grant.AccessPolicies {
		policies = append(policies, shortPolicy(p))
	}
	s := fmt.Sprintf("%s/%s: %s asks for %s on cluster %s as %s for %s (%s)", ar.Namespace, ar.Name, ar.Spec.Requester,
		orNone(strings.Join(policies, ", ")), ar.Spec.Grant.ClusterName, ar.Spec.Grant.PrincipalARN, ar.Spec.Duration.Duration, ar.Spec.Reason)
	if ar.Status.Phase != "" {
		s += "; " + string(ar.Status.Phase)
	}
	if ar.Status.ExpiresAt != nil {
		s += " until " + ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

// Table prints requests, one a line.
func Table(w io.Writer, items []v1.AccessRequest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tREQUESTER\tCLUSTER\tPOLICIES\tDURATION\tPHASE\tUNTIL\tREASON")
	for _, ar := range items {
		var policies []string
		for _, p := range ar.Spec.Grant.AccessPolicies {
			policies = append(policies, shortPolicy(p))
		}
		until := "-"
		if ar.Status.ExpiresAt != nil {
			until = ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ar.Namespace, ar.Name, ar.Spec.Requester, ar.Spec.Grant.ClusterName,
			orNone(strings.Join(policies, ",")), ar.Spec.Duration.Duration, orNone(string(ar.Status.Phase)), until, ar.Spec.Reason)
	}
	return tw.Flush()
}

func shortPolicy(p v1.AccessPolicy) string {
	name := p.PolicyARN[strings.LastIndex(p.PolicyARN, "/")+1:]
	if p.AccessScope.Type == v1.AccessScopeNamespace {
		var ns []string
		for _, n := range p.AccessScope.Namespaces {
			ns = append(ns, string(n))
		}
		name += ":" + strings.Join(ns, ",")
	}
	return name
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
