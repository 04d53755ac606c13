package onboard

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	v1 "github.com/eksaccess/eks-access-operator/api/v1alpha1"
	"github.com/eksaccess/eks-access-operator/internal/awsapi"
	"github.com/eksaccess/eks-access-operator/internal/awsarn"
)

// MigrateOptions say which cluster the manifests are for and how to write them.
type MigrateOptions struct {
	Cluster string
	// Region goes into spec.region; empty leaves it out (the operator's --region).
	Region    string
	Namespace string
	// SSORegion is the region of the IAM Identity Center instance, which appears in
	// the path of its roles unless it is us-east-1. Empty means us-east-1.
	SSORegion string
	// Adopt annotates every object with eksaccess.io/adopt: "true".
	Adopt bool
	// KeepARNs writes the role ARN of IAM Identity Center roles, with the path
	// SSORegion implies, not their permission set (spec.identityCenter); the
	// sso matcher is then not converted.
	KeepARNs bool
}

// Placeholders aws-iam-authenticator fills into usernames and groups.
const (
	phAccountID      = "{{AccountID}}"
	phSessionNameRaw = "{{SessionNameRaw}}"
	phEC2DNSName     = "{{EC2PrivateDNSName}}"
)

// The node mappings EKS and eksctl write into aws-auth.
const (
	ec2NodeUsername     = "system:node:" + phEC2DNSName
	sessionNodeUsername = "system:node:" + sessionName
	groupNodes          = "system:nodes"
	groupBootstrappers  = "system:bootstrappers"
	groupNodeProxier    = "system:node-proxier"
	groupKubeProxyWin   = "eks:kube-proxy-windows"
	groupMasters        = "system:masters"
)

var (
	placeholderRE = regexp.MustCompile(`\{\{[^{}]*\}\}`)
	accountIDRE   = regexp.MustCompile(`^[0-9]{12}$`)
)

// mapping is one entry of mapRoles or mapUsers.
type mapping struct {
	source   string // "mapRoles[3]"
	section  string // "mapRoles" or "mapUsers"
	index    int
	arn      string
	username string
	groups   []string
	sso      *ssoMatcher
	unknown  []string // keys aws-iam-authenticator does not read
	skipped  string   // a field of the wrong type, which aws-auth ignores
	err      string   // why the entry could not be read at all
}

// ssoMatcher is aws-iam-authenticator's "sso" alternative to rolearn.
type ssoMatcher struct {
	PermissionSetName string `json:"permissionSetName"`
	AccountID         string `json:"accountID"`
	Partition         string `json:"partition"`
}

// rawMapping holds the fields aws-iam-authenticator reads. Like it, it is decoded
// with encoding/json, whose key matching ignores case ("roleArn" is rolearn).
type rawMapping struct {
	RoleARN  string      `json:"rolearn"`
	UserARN  string      `json:"userarn"`
	Username string      `json:"username"`
	Groups   []string    `json:"groups"`
	SSO      *ssoMatcher `json:"sso"`
}

// parseMappings reads one of mapRoles and mapUsers. An error means the whole
// value is not a YAML list.
func parseMappings(section, text string) ([]mapping, error) {
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(js, &items); err != nil {
		return nil, fmt.Errorf("not a YAML list of mappings")
	}
	known := map[string]bool{"username": true, "groups": true}
	arnKey := "userarn"
	if section == "mapRoles" {
		arnKey = "rolearn"
		known["sso"] = true
	}
	known[arnKey] = true
	out := make([]mapping, 0, len(items))
	for i, raw := range items {
		m := mapping{source: fmt.Sprintf("%s[%d]", section, i), section: section, index: i}
		var keys map[string]json.RawMessage
		var r rawMapping
		if err := json.Unmarshal(raw, &keys); err != nil {
			m.err = "not a mapping (rolearn or userarn, username, groups)"
		} else if err := json.Unmarshal(raw, &r); err != nil {
			// encoding/json skips a field of the wrong type and fills the others;
			// aws-iam-authenticator then uses the mapping without that field.
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				m.err = "cannot be read: " + err.Error()
			} else {
				m.skipped = typeErr.Field
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if !known[strings.ToLower(k)] {
				m.unknown = append(m.unknown, k)
			}
		}
		m.username, m.groups = r.Username, r.Groups
		if section == "mapRoles" {
			m.arn, m.sso = r.RoleARN, r.SSO
		} else {
			m.arn = r.UserARN
		}
		out = append(out, m)
	}
	return out, nil
}

// parseAccounts reads mapAccounts: account IDs, quoted or not.
func parseAccounts(text string) ([]string, error) {
	var raw []any
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("not a YAML list of account IDs")
	}
	out := make([]string, 0, len(raw))
	for _, a := range raw {
		switch v := a.(type) {
		case string:
			out = append(out, v)
		case float64:
			// An unquoted ID is a number in YAML; leading zeros are lost.
			out = append(out, fmt.Sprintf("%012d", int64(v)))
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out, nil
}

// candidate is a mapping that converts to an object, before duplicates are settled.
type candidate struct {
	m    mapping
	item *Item
	obj  *Object
	// live is false for a mapping aws-auth never matched (a role ARN with a path).
	live bool
}

// precedes reports whether aws-auth uses c rather than d for the same principal:
// a mapping that can match before one that cannot, mapRoles before mapUsers
// (aws-iam-authenticator looks roles up first), then the later mapping (the last
// one of a principal overwrites the others).
func (c *candidate) precedes(d *candidate) bool {
	if c.live != d.live {
		return c.live
	}
	if c.m.section != d.m.section {
		return c.m.section == "mapRoles"
	}
	return c.m.index > d.m.index
}

// Migrate converts the mappings of an aws-auth ConfigMap into AccessEntry objects,
// and reports what each mapping became, what does not convert, and what a person
// has to check. It reads nothing but auth.
func Migrate(auth AWSAuth, opts MigrateOptions) (Result, error) {
	if err := checkTarget(opts.Cluster, opts.Region, opts.Namespace); err != nil {
		return Result{}, err
	}
	if opts.SSORegion != "" && !regionRE.MatchString(opts.SSORegion) {
		return Result{}, fmt.Errorf("--sso-region %q is not an AWS region name such as eu-west-1", opts.SSORegion)
	}
	c := &converter{opts: opts}
	sections := slices.Sorted(maps.Keys(auth.Data))
	// mapRoles, mapUsers, mapAccounts first and in that order, then anything else.
	order := map[string]int{"mapRoles": 0, "mapUsers": 1, "mapAccounts": 2}
	slices.SortStableFunc(sections, func(a, b string) int {
		oa, ok := order[a]
		if !ok {
			oa = 3
		}
		ob, ok := order[b]
		if !ok {
			ob = 3
		}
		return cmp.Compare(oa, ob)
	})
	for _, key := range sections {
		text := auth.Data[key]
		switch key {
		case "mapRoles", "mapUsers":
			ms, err := parseMappings(key, text)
			if err != nil {
				it := c.newItem(key, "")
				it.add(NotConverted, "%s: %v; aws-auth cannot read it either", key, err)
				continue
			}
			for _, m := range ms {
				c.convert(m)
			}
		case "mapAccounts":
			accounts, err := parseAccounts(text)
			if err != nil {
				it := c.newItem(key, "")
				it.add(NotConverted, "%v", err)
				continue
			}
			for i, a := range accounts {
				it := c.newItem(fmt.Sprintf("mapAccounts[%d]", i), a)
				it.add(NotConverted, "aws-auth lets every IAM role and user of account %s in, with its ARN as username and no groups; "+
					"access entries name principals one by one: write an AccessEntry for each principal of %s that needs access", a, a)
			}
		default:
			it := c.newItem("data."+key, "")
			it.add(NotConverted, "aws-auth reads only mapRoles, mapUsers and mapAccounts; this key is ignored")
		}
	}
	return c.finish(auth.Origin), nil
}

type converter struct {
	opts       MigrateOptions
	items      []*Item
	candidates []*candidate
}

func (c *converter) newItem(source, subject string) *Item {
	it := &Item{Source: source, Subject: subject}
	c.items = append(c.items, it)
	return it
}

// convert turns one mapping into a candidate object, or reports why it cannot.
func (c *converter) convert(m mapping) {
	it := c.newItem(m.source, strings.TrimSpace(m.arn))
	if m.err != "" {
		it.add(NotConverted, "%s", m.err)
		return
	}
	if m.skipped != "" {
		it.add(Check, "%s is not of the type aws-auth expects (a string, or a list of strings for groups); aws-auth ignores it, and so does this conversion", m.skipped)
	}
	for _, k := range m.unknown {
		it.add(Check, "key %q is not one aws-auth reads (a typo?); it ignored the key, and so does this conversion", k)
	}
	if m.sso != nil {
		it.Subject = fmt.Sprintf("sso{permissionSetName: %s, accountID: %s}", m.sso.PermissionSetName, m.sso.AccountID)
		if !c.opts.KeepARNs && permissionSetRE.MatchString(m.sso.PermissionSetName) && accountIDRE.MatchString(m.sso.AccountID) {
			// The set's role, with a placeholder suffix, stands for the set
			// until finish writes the permission-set form.
			subject := it.Subject
			c.items = slices.DeleteFunc(c.items, func(x *Item) bool { return x == it })
			m.arn = fmt.Sprintf("arn:%s:iam::%s:role/%s%s_%s", cmp.Or(m.sso.Partition, "aws"), m.sso.AccountID, ssoPrefix, m.sso.PermissionSetName, strings.Repeat("0", 16))
			m.sso = nil
			c.convert(m)
			c.items[len(c.items)-1].Subject = subject
			return
		}
		it.add(NotConverted, "the sso matcher matches the Identity Center role of permission set %s by its name prefix; an access entry needs that role's ARN: "+
			"find it with 'aws iam list-roles --path-prefix /aws-reserved/sso.amazonaws.com/ --query \"Roles[?starts_with(RoleName, `%s%s_`)].Arn\" --output text' "+
			"in account %s, and write an AccessEntry for it", m.sso.PermissionSetName, ssoPrefix, m.sso.PermissionSetName, m.sso.AccountID)
		return
	}
	if it.Subject == "" {
		key := "userarn"
		if m.section == "mapRoles" {
			key = "rolearn"
		}
		it.add(NotConverted, "no %s: aws-auth ignores this mapping", key)
		return
	}
	p, live, ok := c.principalOf(it, it.Subject)
	if !ok {
		return
	}
	spec, ok := c.specOf(it, m, p)
	if !ok {
		return
	}
	obj := &Object{Namespace: c.opts.Namespace, Spec: spec, Comment: "from aws-auth " + m.source}
	c.candidates = append(c.candidates, &candidate{m: m, item: it, obj: obj, live: live})
}

var (
	assumedRoleRE = regexp.MustCompile(`^arn:[^:]+:sts::[0-9]{12}:assumed-role/`)
	rootRE        = regexp.MustCompile(`^arn:[^:]+:iam::[0-9]{12}:root$`)
)

// principalOf resolves the ARN of a mapping to the principal of the access entry.
// live is false when aws-auth could never match the mapping.
func (c *converter) principalOf(it *Item, arn string) (p principal, live, ok bool) {
	switch {
	case assumedRoleRE.MatchString(arn):
		it.add(NotConverted, "an STS session ARN: aws-auth matches the IAM role a session belongs to, so this mapping never matched, "+
			"and EKS refuses sessions as principals; map the role (arn:...:iam::ACCOUNT:role/NAME) if it needs access")
		return p, false, false
	case rootRE.MatchString(arn):
		it.add(NotConverted, "an account root: access entries are for IAM roles and users")
		return p, false, false
	case linkedRoleRE.MatchString(arn):
		it.add(NotConverted, "a service-linked role: EKS does not allow access entries for service-linked roles; keep this mapping in aws-auth (the cluster cannot move to API mode while it is needed)")
		return p, false, false
	}
	p, ok = parsePrincipal(arn)
	if !ok {
		it.add(NotConverted, "not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME or user/NAME, in the aws, aws-cn or aws-us-gov partition)")
		return p, false, false
	}
	if p.Kind == "role" && strings.HasPrefix(p.Name, "AWSServiceRoleFor") && p.Path == "" {
		it.add(NotConverted, "a service-linked role (role/aws-service-role/.../%s): EKS does not allow access entries for service-linked roles; "+
			"keep this mapping in aws-auth (the cluster cannot move to API mode while it is needed)", p.Name)
		return p, false, false
	}
	if p.Kind != "role" {
		return p, true, true
	}
	switch {
	case p.Path != "":
		// aws-iam-authenticator compares the caller's role ARN, which never has a
		// path, with the ARN as written.
		it.add(Check, "this ARN has a path, so aws-auth never matched it and the role had no access through this mapping; "+
			"the AccessEntry uses the ARN as written and grants the access aws-auth did not: keep it only if that is intended")
		return p, false, true
	case strings.HasPrefix(p.Name, ssoPrefix) && !c.opts.KeepARNs:
		// Named by permission set (finish): whichever path the role has,
		// the operator finds it.
		p.Path = strings.TrimPrefix(awsapi.SSORolePath, "/")
		p.ARN = fmt.Sprintf("arn:%s:iam::%s:role/%s%s", p.Partition, p.Account, p.Path, p.Name)
	case strings.HasPrefix(p.Name, ssoPrefix):
		path := "aws-reserved/sso.amazonaws.com/"
		if r := c.opts.SSORegion; r != "" && r != "us-east-1" {
			path += r + "/"
		}
		p.Path = path
		p.ARN = fmt.Sprintf("arn:%s:iam::%s:role/%s%s", p.Partition, p.Account, path, p.Name)
		it.add(Check, "an IAM Identity Center role: aws-auth holds it without its path, an access entry needs its real ARN; "+
			"the path is assumed to be /%s (Identity Center in %s; --sso-region sets another region). Confirm with "+
			"'aws iam get-role --role-name %s --query Role.Arn --output text' and correct spec.principalARN if it differs",
			path, cmp.Or(c.opts.SSORegion, "us-east-1"), p.Name)
	}
	return p, true, true
}

// specOf builds the spec of a mapping: a node type from the node mappings EKS
// writes, otherwise STANDARD with the username and groups access entries allow.
func (c *converter) specOf(it *Item, m mapping, p principal) (v1.AccessEntrySpec, bool) {
	spec := v1.AccessEntrySpec{ClusterName: c.opts.Cluster, Region: c.opts.Region, PrincipalARN: p.ARN}
	username := strings.TrimSpace(m.username)
	if strings.HasPrefix(username, "system:node:") {
		typ, ok := nodeType(it, p, username, m.groups)
		if !ok {
			return spec, false
		}
		spec.Type = typ
		spec.DeletionPolicy = v1.DeletionPolicyRetain
		return spec, true
	}
	if slices.Contains(m.groups, groupNodes) || strings.Contains(username, phEC2DNSName) {
		// As STANDARD it would take precedence over the mapping and drop the node groups.
		it.add(NotConverted, "a node mapping (group system:nodes or %s) with username %q, which matches no access entry type; "+
			"a STANDARD entry would take the node groups away: write its AccessEntry by hand (type EC2_LINUX for EC2 nodes)", phEC2DNSName, username)
		return spec, false
	}

	policies := map[string]bool{}
	seen := map[string]bool{}
	for _, g := range m.groups {
		orig := g
		if strings.Contains(g, phAccountID) {
			g = strings.ReplaceAll(g, phAccountID, p.Account)
			it.add(Note, "group %q: %s replaced by %s, the principal's account (access entries have no placeholders in groups)", orig, phAccountID, p.Account)
		}
		switch {
		case g == "" || seen[g]:
			continue
		case placeholderRE.MatchString(g):
			it.add(Changed, "group %q dropped: access entries have no placeholders in group names; the principal loses what RBAC grants that group", orig)
		case g == groupMasters:
			policies[clusterAdminPolicy(p.Partition)] = true
			it.add(Note, "group system:masters becomes AmazonEKSClusterAdminPolicy at cluster scope (EKS refuses system: groups)")
		case strings.HasPrefix(g, "system:"):
			it.add(Changed, "group %q dropped: EKS refuses kubernetesGroups that start with system:; bind what it grants to a group of your own and add that group", g)
		case len([]rune(g)) > 256:
			it.add(Changed, "group %q dropped: longer than the 256 characters a group may have", g)
		default:
			spec.KubernetesGroups = append(spec.KubernetesGroups, v1.KubernetesGroup(g))
		}
		seen[g] = true
	}
	for _, arn := range slices.Sorted(maps.Keys(policies)) {
		spec.AccessPolicies = append(spec.AccessPolicies, v1.AccessPolicy{PolicyARN: arn, AccessScope: v1.AccessScope{Type: v1.AccessScopeCluster}})
		spec.DeletionPolicy = v1.DeletionPolicyRetain
	}
	if len(m.groups) > 0 && len(spec.KubernetesGroups) == 0 && len(spec.AccessPolicies) == 0 {
		it.add(Changed, "no group or access policy is left: the principal only gets what RBAC grants its username")
	}
	spec.Username = c.username(it, username, p)
	return spec, true
}

// nodeType is the access entry type of a node mapping (username system:node:...).
func nodeType(it *Item, p principal, username string, groups []string) (v1.AccessEntryType, bool) {
	if p.Kind != "role" {
		it.add(NotConverted, "a node username on an IAM user: node entries are for IAM roles")
		return "", false
	}
	if !slices.Contains(groups, groupNodes) {
		it.add(NotConverted, "node username %s without the group system:nodes is no node mapping EKS knows; write its AccessEntry by hand", username)
		return "", false
	}
	var typ v1.AccessEntryType
	expected := []string{groupBootstrappers, groupNodes}
	switch {
	case username == ec2NodeUsername && slices.Contains(groups, groupKubeProxyWin):
		typ = v1.TypeEC2Windows
		expected = append(expected, groupKubeProxyWin)
	case username == ec2NodeUsername:
		typ = v1.TypeEC2Linux
	case username == sessionNodeUsername && slices.Contains(groups, groupNodeProxier):
		typ = v1.TypeFargateLinux
		expected = append(expected, groupNodeProxier)
	case username == sessionNodeUsername:
		typ = v1.TypeHybridLinux
		it.add(Check, "username %s without system:node-proxier is the mapping of EKS Hybrid Nodes, so the type is HYBRID_LINUX; "+
			"if the role is a Fargate pod execution role, the type is FARGATE_LINUX", sessionNodeUsername)
	default:
		it.add(NotConverted, "node username %s matches no access entry type (EC2 nodes use %s, Fargate and hybrid nodes %s); write its AccessEntry by hand",
			username, ec2NodeUsername, sessionNodeUsername)
		return "", false
	}
	var extra []string
	for _, g := range groups {
		if !slices.Contains(expected, g) && !slices.Contains(extra, g) {
			extra = append(extra, g)
		}
	}
	if len(extra) > 0 {
		it.add(Changed, "groups %s dropped: node entries take no kubernetesGroups (EKS gives %s entries their node groups itself); "+
			"if the nodes need what those groups grant, bind it to the group system:nodes", strings.Join(extra, ", "), typ)
	}
	return typ, true
}

// username converts an aws-auth username to spec.username: "" lets EKS derive one.
func (c *converter) username(it *Item, u string, p principal) string {
	if u == "" {
		it.add(Note, "aws-auth gives no username; EKS derives %s", awsarn.DefaultUsername(p.ARN))
		return ""
	}
	orig := u
	if strings.Contains(u, phAccountID) {
		u = strings.ReplaceAll(u, phAccountID, p.Account)
		it.add(Note, "username %q: %s replaced by %s, the principal's account (access entries do not know the placeholder)", orig, phAccountID, p.Account)
	}
	derived := awsarn.DefaultUsername(p.ARN)
	drop := func(why string) string {
		it.add(Changed, "username %q dropped: %s; EKS derives %s. RoleBindings and ClusterRoleBindings whose subjects name the user %q no longer apply to this principal: "+
			"update them, or set a valid spec.username", orig, why, derived, orig)
		return ""
	}
	for _, ph := range placeholderRE.FindAllString(u, -1) {
		if ph != sessionName && ph != phSessionNameRaw {
			return drop("access entries do not fill in the placeholder " + ph)
		}
	}
	if why := usernameProblem(u); why != "" {
		return drop("not valid for an access entry: " + why)
	}
	if u == derived {
		return ""
	}
	return u
}

// clusterAdminPolicy is the ARN of AmazonEKSClusterAdminPolicy in a partition.
func clusterAdminPolicy(partition string) string {
	return awsarn.PolicyARN(partition, "AmazonEKSClusterAdminPolicy")
}

// finish settles duplicate principals as aws-auth does, names the objects, checks
// them against the schema and writes the report.
func (c *converter) finish(origin string) Result {
	byPrincipal := map[string][]*candidate{}
	var keys []string
	for _, cand := range c.candidates {
		k := c.principalKey(cand.obj.Spec)
		if _, ok := byPrincipal[k]; !ok {
			keys = append(keys, k)
		}
		byPrincipal[k] = append(byPrincipal[k], cand)
	}
	var winners []*candidate
	for _, k := range keys {
		group := byPrincipal[k]
		win := group[0]
		for _, cand := range group[1:] {
			if cand.precedes(win) {
				win = cand
			}
		}
		for _, cand := range group {
			if cand == win {
				continue
			}
			if a := cand.obj.Spec.PrincipalARN; a != win.obj.Spec.PrincipalARN {
				win.item.add(Check, "%s spells the ARN %s; IAM keeps the case of names: confirm the spelling with 'aws iam get-role'", cand.m.source, a)
			}
			why := "aws-auth uses that one"
			if !cand.live && win.live {
				why = "aws-auth never matched this one"
			}
			cand.item.Lines = nil
			cand.item.add(NotConverted, "%s maps the same principal (%s: the last mapping of a principal wins, and mapRoles before mapUsers); "+
				"nothing of this mapping is converted: merge what it grants into that object by hand if it is needed", win.m.source, why)
		}
		if errs := validateSpec(win.obj.Spec); len(errs) > 0 {
			win.item.add(NotConverted, "the AccessEntry would not pass the schema: %s", strings.Join(errs, "; "))
			continue
		}
		winners = append(winners, win)
	}

	// In the order of the ConfigMap, so that the output reads alongside it.
	slices.SortFunc(winners, func(a, b *candidate) int {
		if a.m.section != b.m.section {
			return cmp.Compare(sectionRank(a.m.section), sectionRank(b.m.section))
		}
		return cmp.Compare(a.m.index, b.m.index)
	})
	objs := make([]*Object, 0, len(winners))
	for _, w := range winners {
		objs = append(objs, w.obj)
		if c.opts.Adopt {
			w.obj.Annotations = map[string]string{v1.AdoptAnnotation: "true"}
		}
	}
	assignNames(objs, c.opts.Cluster, homeAccount(winners))
	for _, w := range winners {
		if c.opts.KeepARNs {
			continue
		}
		if set := permissionSetForm(&w.obj.Spec, ""); set != "" {
			w.item.add(Note, "an IAM Identity Center role: the AccessEntry names its permission set %s in account %s (spec.identityCenter), and the operator finds the role in IAM, "+
				"whatever its path and suffix, also after the set is provisioned again; --keep-arns writes the role ARN instead", set, w.obj.Spec.IdentityCenter.Account)
		}
	}
	for _, w := range winners {
		w.item.Object = fmt.Sprintf("%s/%s (%s)", w.obj.Namespace, w.obj.Name, cmp.Or(w.obj.Spec.Type, v1.TypeStandard))
	}

	r := Report{}
	for _, it := range c.items {
		r.Items = append(r.Items, *it)
	}
	conv, notConv, review := r.Count()
	r.Title = fmt.Sprintf("kubectl eksaccess migrate-aws-auth: %s, cluster %s: %d of %d inputs converted, %d not converted, %d to review",
		origin, c.opts.Cluster, conv, conv+notConv, notConv, review)
	r.Notes = c.notes(objs)
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = *o
	}
	return Result{Objects: out, Report: r}
}

// principalKey says which candidates are for one principal: its ARN in any
// letter case, or, for an Identity Center role named by permission set, the
// set and account (whatever suffix the mapping gives).
func (c *converter) principalKey(s v1.AccessEntrySpec) string {
	if !c.opts.KeepARNs {
		if p, ok := parsePrincipal(s.PrincipalARN); ok && p.Kind == "role" {
			if set, ok := ssoPermissionSet(p.Name); ok && strings.HasPrefix(p.Name, ssoPrefix) {
				return "permission set " + p.Account + "/" + set
			}
		}
	}
	return strings.ToLower(s.PrincipalARN)
}

func sectionRank(section string) int {
	if section == "mapRoles" {
		return 0
	}
	return 1
}

// homeAccount is the cluster's account as far as the mappings tell: the one of
// the node roles (EKS requires them in the cluster's account), else the account
// most principals are in (the smallest ID on a tie).
func homeAccount(cands []*candidate) string {
	nodes, all := map[string]int{}, map[string]int{}
	for _, c := range cands {
		p, _ := parsePrincipal(c.obj.Spec.PrincipalARN)
		all[p.Account]++
		if isNodeType(c.obj.Spec.Type) {
			nodes[p.Account]++
		}
	}
	if len(nodes) == 1 {
		for a := range nodes {
			return a
		}
	}
	best := ""
	for _, a := range slices.Sorted(maps.Keys(all)) {
		if best == "" || all[a] > all[best] {
			best = a
		}
	}
	return best
}

func (c *converter) notes(objs []*Object) []string {
	notes := []string{
		"aws-auth holds role ARNs without their path. A role that has one needs its real ARN in spec.principalARN, or EKS refuses the entry " +
			"and the object waits with reason PrincipalNotFound; list the roles that have a path with " +
			"'aws iam list-roles --query \"Roles[?Path!=`/`].Arn\" --output text'.",
		"In API_AND_CONFIG_MAP mode a principal's access entry takes precedence over its aws-auth mapping: an object marked \"changed\" " +
			"changes that principal's access as soon as it is Ready. Apply a few objects at a time and test each principal (docs/migrating-from-aws-auth.md).",
	}
	if c.opts.Adopt {
		notes = append(notes, "Every object carries eksaccess.io/adopt: \"true\": an access entry that already exists for its principal is taken over "+
			"and brought to the spec, which disassociates every access policy the spec does not list.")
	} else {
		notes = append(notes, "An object whose principal already has an access entry (EKS makes them for managed node groups, Fargate profiles "+
			"and the cluster creator) stops at AlreadyExists and changes nothing; annotate it with eksaccess.io/adopt=true, or run again with --adopt, to take the entry over.")
	}
	if slices.ContainsFunc(objs, func(o *Object) bool { return o.Spec.DeletionPolicy == v1.DeletionPolicyRetain }) {
		notes = append(notes, "Node roles and cluster administrators get deletionPolicy: Retain, so that deleting their object (or a GitOps prune) leaves their access entry in place.")
	}
	if c.opts.Region == "" {
		notes = append(notes, "spec.region is left out (no --region, AWS_REGION or profile region was found): the operator's --region applies.")
	}
	return notes
}
