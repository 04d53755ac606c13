package onboard

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// principal is a parsed IAM role or user ARN, in the forms the CRD accepts.
type principal = awsarn.Principal

func parsePrincipal(arn string) (principal, bool) { return awsarn.ParsePrincipal(arn) }

// ssoPrefix starts the name of every role IAM Identity Center makes for a permission
// set: AWSReservedSSO_<permission set>_<unique suffix>.
const ssoPrefix = "AWSReservedSSO_"

// ssoPermissionSet is the permission set an Identity Center role is for.
func ssoPermissionSet(roleName string) (string, bool) {
	rest, ok := strings.CutPrefix(roleName, ssoPrefix)
	i := strings.LastIndex(rest, "_")
	if !ok || i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// permissionSetRE is what Identity Center allows in a permission set's name.
var permissionSetRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,32}$`)

// permissionSetForm rewrites the spec of an entry for an Identity Center role
// to name the role's permission set (spec.identityCenter) instead of the role,
// whose suffix differs per account and changes when the set is provisioned
// again; the operator finds the role in IAM. The account is written unless it
// is home (the cluster's, when known for sure; "" otherwise). It returns the
// set, or "" when the spec is not for such a role (a node type, a role
// elsewhere than Identity Center's path, a name Identity Center would not give).
func permissionSetForm(s *v1.AccessEntrySpec, home string) string {
	p, ok := parsePrincipal(s.PrincipalARN)
	if !ok || p.Kind != "role" || s.EntryType() != v1.TypeStandard {
		return ""
	}
	set, ok := awsapi.PermissionSetOfRole(s.PrincipalARN)
	if !ok || !permissionSetRE.MatchString(set) {
		return ""
	}
	s.IdentityCenter = &v1.IdentityCenterPrincipal{PermissionSet: set}
	if p.Account != home {
		s.IdentityCenter.Account = p.Account
	}
	s.PrincipalARN = ""
	return set
}

// baseName is the object name of a principal's AccessEntry: the cluster name, then
// the IAM name (the permission set for Identity Center roles, whose names carry a
// random suffix), then the account when it is not the cluster's own. Prefixing the
// cluster (unless the IAM name starts with it already) keeps the objects of several
// clusters apart in one namespace. A name too long for an object is cut before the
// account, never in it: two principals of one name in different accounts stay
// told apart by their object names.
func baseName(cluster string, p principal, homeAccount string) string {
	head, tail := nameParts(cluster, p, homeAccount)
	return fit(head, tail)
}

// nameParts splits a base name into the part that may be cut to fit and the
// account suffix ("" for the cluster's own account), which is kept whole.
func nameParts(cluster string, p principal, homeAccount string) (head, tail string) {
	name := p.Name
	if set, ok := ssoPermissionSet(p.Name); ok && p.Kind == "role" {
		name = set
	}
	if p.Account != homeAccount {
		tail = "-" + dnsName(p.Account)
	}
	prefix, n := dnsName(cluster)+"-", dnsName(name)
	if strings.HasPrefix(n, prefix) {
		// demo-gpu-nodes in cluster demo stays demo-gpu-nodes.
		return n, tail
	}
	return dnsName(prefix + n), tail
}

// fit is head followed by tail, head cut so the whole stays within the 253
// characters of an object name.
func fit(head, tail string) string {
	if len(head)+len(tail) > 253 {
		head = strings.TrimRight(head[:253-len(tail)], "-")
	}
	return head + tail
}

// dnsName lowercases s and replaces every run of characters an object name may not
// hold by one '-'. The result is a valid DNS-1123 subdomain of at most 253
// characters (IAM and cluster names are far shorter).
func dnsName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 253 {
		out = strings.TrimRight(out[:253], "-")
	}
	if out == "" {
		out = "principal"
	}
	return out
}

// assignNames gives each object its base name. Different principals can still
// meet on one name (role and user of the same name, names that differ only in
// characters an object name cannot hold): each of those gets a hash of its
// principal ARN appended, 8 hex digits unless that name is taken by another
// object (role/ops-1a2b3c4d next to role/ops and user/ops), in which case the
// hash grows until it is free. Every name is unique and depends only on the set of
// principals, never on listing order.
func assignNames(objs []*Object, cluster, homeAccount string) {
	byName := map[string][]*Object{}
	parts := map[*Object][2]string{}
	for _, o := range objs {
		p, _ := parsePrincipal(o.Spec.PrincipalARN)
		head, tail := nameParts(cluster, p, homeAccount)
		n := fit(head, tail)
		byName[n] = append(byName[n], o)
		parts[o] = [2]string{head, tail}
	}
	// Base names held by one principal are theirs; suffixed names must avoid them.
	taken := map[string]bool{}
	for n, group := range byName {
		if len(group) == 1 {
			group[0].Name = n
			taken[n] = true
		}
	}
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		group := byName[n]
		if len(group) == 1 {
			continue
		}
		slices.SortFunc(group, func(a, b *Object) int { return cmp.Compare(a.Spec.PrincipalARN, b.Spec.PrincipalARN) })
		for _, o := range group {
			o.Name = suffixedName(parts[o][0], parts[o][1], o.Spec.PrincipalARN, taken)
			taken[o.Name] = true
		}
	}
}

// suffixedName is the base name of head and tail followed by the shortest hash of
// arn, 8 hex digits or more, that makes a name not in taken. Only head is cut to
// stay within the 253 characters of an object name: the account and the hash stay
// whole.
func suffixedName(head, tail, arn string, taken map[string]bool) string {
	sum := sha256.Sum256([]byte(arn))
	digest := hex.EncodeToString(sum[:])
	for n := 8; n <= len(digest); n += 4 {
		if name := fit(head, tail+"-"+digest[:n]); !taken[name] {
			return name
		}
	}
	// Two principals with one SHA-256: not going to happen; fall back to a counter.
	for i := 2; ; i++ {
		if name := fit(head, fmt.Sprintf("%s-%s-%d", tail, digest, i)); !taken[name] {
			return name
		}
	}
}

// sortObjects orders objects by name, for a deterministic output.
func sortObjects(objs []*Object) []Object {
	slices.SortFunc(objs, func(a, b *Object) int { return cmp.Compare(a.Name, b.Name) })
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = *o
	}
	return out
}
