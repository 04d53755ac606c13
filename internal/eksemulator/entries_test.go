package eksemulator

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestCreateAccessEntryFillsEKSDefaults(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	tests := []struct {
		name      string
		principal string
		typ       string
		username  string
		groups    []string
		wantType  string
		wantUser  string
		wantGroup []string
		wantARN   string // middle of the entry ARN: kind/account/name
	}{
		{
			name: "role standard", principal: myRole,
			wantType: "STANDARD", wantUser: "arn:aws:sts::111122223333:assumed-role/my-role/{{SessionName}}",
			wantGroup: []string{}, wantARN: "role/111122223333/my-role",
		},
		{
			name: "role with path drops the path", principal: "arn:aws:iam::111122223333:role/development/apps/apps-role",
			wantType: "STANDARD", wantUser: "arn:aws:sts::111122223333:assumed-role/apps-role/{{SessionName}}",
			wantGroup: []string{}, wantARN: "role/111122223333/apps-role",
		},
		{
			name: "user standard", principal: "arn:aws:iam::111122223333:user/alice", typ: "STANDARD",
			wantType: "STANDARD", wantUser: "arn:aws:iam::111122223333:user/alice",
			wantGroup: []string{}, wantARN: "user/111122223333/alice",
		},
		{
			name: "role in another account", principal: roleARN(otherAccount, "auditor"),
			wantType: "STANDARD", wantUser: "arn:aws:sts::444455556666:assumed-role/auditor/{{SessionName}}",
			wantGroup: []string{}, wantARN: "role/444455556666/auditor",
		},
		{
			name: "explicit username and groups", principal: roleARN(testAccount, "viewers"),
			username: "Viewers", groups: []string{"Viewers", "readers", "Viewers"},
			wantType: "STANDARD", wantUser: "Viewers", wantGroup: []string{"Viewers", "readers"},
			wantARN: "role/111122223333/viewers",
		},
		{
			name: "EC2 linux as the user guide spells it", principal: roleARN(testAccount, "ng-1"), typ: "EC2_Linux",
			wantType: "EC2_LINUX", wantUser: "system:node:{{EC2PrivateDNSName}}", wantGroup: []string{"system:nodes"},
			wantARN: "role/111122223333/ng-1",
		},
		{
			name: "EC2 windows", principal: roleARN(testAccount, "ng-win"), typ: "EC2_WINDOWS",
			wantType: "EC2_WINDOWS", wantUser: "system:node:{{EC2PrivateDNSName}}",
			wantGroup: []string{"system:nodes", "eks:kube-proxy-windows"}, wantARN: "role/111122223333/ng-win",
		},
		{
			name: "EC2 auto mode", principal: roleARN(testAccount, "auto-node"), typ: "EC2",
			wantType: "EC2", wantUser: "system:node:{{EC2PrivateDNSName}}", wantGroup: []string{"system:nodes"},
			wantARN: "role/111122223333/auto-node",
		},
		{
			name: "fargate", principal: roleARN(testAccount, "pod-exec"), typ: "FARGATE_LINUX",
			wantType: "FARGATE_LINUX", wantUser: "system:node:{{SessionName}}", wantGroup: []string{"system:nodes"},
			wantARN: "role/111122223333/pod-exec",
		},
		{
			name: "hybrid", principal: roleARN(testAccount, "hybrid"), typ: "HYBRID_LINUX",
			wantType: "HYBRID_LINUX", wantUser: "system:node:{{SessionName}}", wantGroup: []string{"system:nodes"},
			wantARN: "role/111122223333/hybrid",
		},
		{
			name: "hyperpod like the other node types", principal: roleARN(testAccount, "hyperpod"), typ: "HYPERPOD_LINUX",
			wantType: "HYPERPOD_LINUX", wantUser: "system:node:{{SessionName}}", wantGroup: []string{"system:nodes"},
			wantARN: "role/111122223333/hyperpod",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &eks.CreateAccessEntryInput{PrincipalArn: aws.String(tt.principal), KubernetesGroups: tt.groups}
			if tt.typ != "" {
				in.Type = aws.String(tt.typ)
			}
			if tt.username != "" {
				in.Username = aws.String(tt.username)
			}
			before := time.Now().Add(-time.Second)
			created := createEntry(t, c, in)
			desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(tt.principal)})
			mustOK(t, err, "DescribeAccessEntry")
			for _, e := range []*types.AccessEntry{created, desc.AccessEntry} {
				if got := aws.ToString(e.Type); got != tt.wantType {
					t.Errorf("type = %q, want %q", got, tt.wantType)
				}
				if got := aws.ToString(e.Username); got != tt.wantUser {
					t.Errorf("username = %q, want %q", got, tt.wantUser)
				}
				if !slices.Equal(e.KubernetesGroups, tt.wantGroup) {
					t.Errorf("groups = %q, want %q", e.KubernetesGroups, tt.wantGroup)
				}
				re := regexp.MustCompile(`^arn:aws:eks:us-west-2:111122223333:access-entry/demo/` + regexp.QuoteMeta(tt.wantARN) + `/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
				if !re.MatchString(aws.ToString(e.AccessEntryArn)) {
					t.Errorf("access entry ARN %q does not match %s", aws.ToString(e.AccessEntryArn), re)
				}
				if aws.ToString(e.ClusterName) != testCluster || aws.ToString(e.PrincipalArn) != tt.principal {
					t.Errorf("cluster/principal = %q/%q", aws.ToString(e.ClusterName), aws.ToString(e.PrincipalArn))
				}
				if e.CreatedAt == nil || e.CreatedAt.Before(before) || e.CreatedAt.After(time.Now().Add(time.Second)) || !e.ModifiedAt.Equal(*e.CreatedAt) {
					t.Errorf("createdAt %v / modifiedAt %v not the time of creation", e.CreatedAt, e.ModifiedAt)
				}
			}
			if aws.ToString(created.AccessEntryArn) != aws.ToString(desc.AccessEntry.AccessEntryArn) {
				t.Errorf("describe returned another ARN than create")
			}
		})
	}
}

func TestCreateAccessEntryRefusals(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	many := map[string]string{}
	for i := range 51 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		in   eks.CreateAccessEntryInput
		want string
	}{
		{"empty principal", eks.CreateAccessEntryInput{PrincipalArn: aws.String("")}, "principalArn is required"},
		{"assumed-role session", eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:sts::111122223333:assumed-role/my-role/session")}, "assumed-role"},
		{"service-linked role", eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS")}, "service-linked"},
		{"short account", eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::1111:role/x")}, "not an IAM role or user ARN"},
		{"IAM group", eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:group/admins")}, "not an IAM role or user ARN"},
		{"unknown type", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Type: aws.String("WINDOWS")}, "is not valid"},
		{"node type for a user", eks.CreateAccessEntryInput{PrincipalArn: aws.String("arn:aws:iam::111122223333:user/bob"), Type: aws.String("EC2_LINUX")}, "need an IAM role"},
		{"node role in another account", eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(otherAccount, "ng")), Type: aws.String("EC2_LINUX")}, "cluster's account"},
		{"node type with groups", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Type: aws.String("FARGATE_LINUX"), KubernetesGroups: []string{"x"}}, "kubernetesGroups cannot be specified"},
		{"node type with username", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Type: aws.String("HYBRID_LINUX"), Username: aws.String("node")}, "username cannot be specified"},
		{"username system:", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("system:admin")}, "The username must not begin with system:"},
		{"username eks:", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("eks:x")}, "must not begin with eks:"},
		{"username aws:", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("aws:x")}, "must not begin with aws:"},
		{"username amazon:", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("amazon:x")}, "must not begin with amazon:"},
		{"username iam:", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("iam:x")}, "must not begin with iam:"},
		{"SessionName without colon", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("john{{SessionName}}")}, "colon must appear before {{SessionName}}"},
		{"system: group", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), KubernetesGroups: []string{"ok", "system:masters"}}, "cannot start with system:"},
		{"51 tags", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: many}, "Too many tags"},
		{"aws: tag", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: map[string]string{"AWS:Owner": "x"}}, "reserved"},
		{"long tag key", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: map[string]string{strings.Repeat("k", 129): "x"}}, "1 to 128"},
		{"long tag value", eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: map[string]string{"k": strings.Repeat("v", 257)}}, "at most 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.ClusterName = aws.String(testCluster)
			_, err := c.CreateAccessEntry(ctx, &in)
			wantErr[*types.InvalidParameterException](t, err, tt.want)
		})
	}
	if n := len(s.Entries(testAccount, testRegion, testCluster)); n != 0 {
		t.Fatalf("refused creates left %d entries behind", n)
	}
}

func TestCreateAccessEntryAcceptsLimits(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 256)
	}
	fifty[strings.Repeat("k", 128)] = "" // replaces one key below
	delete(fifty, "k0")
	for i, u := range []string{":john{{SessionName}}", "jo:hn{{SessionName}}", "my-user", "devs:{{SessionName}}"} {
		e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, fmt.Sprintf("r%d", i))), Username: aws.String(u)})
		if aws.ToString(e.Username) != u {
			t.Errorf("username = %q, want %q", aws.ToString(e.Username), u)
		}
	}
	e := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Tags: fifty})
	if len(e.Tags) != 50 {
		t.Fatalf("got %d tags, want 50", len(e.Tags))
	}
}

func TestCreateAccessEntryTwiceIsInUse(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), Type: aws.String("STANDARD")})
	e := wantErr[*types.ResourceInUseException](t, err, msgEntryInUse)
	if aws.ToString(e.ClusterName) != testCluster {
		t.Errorf("clusterName in error = %q", aws.ToString(e.ClusterName))
	}
}

func TestCreateAccessEntryIdempotencyToken(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	in := &eks.CreateAccessEntryInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
		Username: aws.String("me"), ClientRequestToken: aws.String("token-1"),
	}
	first, err := c.CreateAccessEntry(ctx, in)
	mustOK(t, err, "first create")
	retry, err := c.CreateAccessEntry(ctx, in)
	mustOK(t, err, "retried create with the same token")
	if a, b := aws.ToString(first.AccessEntry.AccessEntryArn), aws.ToString(retry.AccessEntry.AccessEntryArn); a != b {
		t.Fatalf("retry returned another entry: %s vs %s", a, b)
	}
	if n := len(s.Entries(testAccount, testRegion, testCluster)); n != 1 {
		t.Fatalf("%d entries after a retried create, want 1", n)
	}

	changed := *in
	changed.Username = aws.String("someone-else")
	_, err = c.CreateAccessEntry(ctx, &changed)
	wantErr[*types.InvalidParameterException](t, err, "already used for a different")

	fresh := *in
	fresh.ClientRequestToken = aws.String("token-2")
	_, err = c.CreateAccessEntry(ctx, &fresh)
	wantErr[*types.ResourceInUseException](t, err, msgEntryInUse)
}

func TestUpdateAccessEntryResetsOmittedFields(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	created := createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole), Username: aws.String("alice"), KubernetesGroups: []string{"viewers"}})
	defaultUser := "arn:aws:sts::111122223333:assumed-role/my-role/{{SessionName}}"
	time.Sleep(5 * time.Millisecond) // so modifiedAt can move

	steps := []struct {
		name      string
		username  *string
		groups    []string
		wantUser  string
		wantGroup []string
	}{
		{"groups only resets the username", nil, []string{"editors"}, defaultUser, []string{"editors"}},
		{"username only resets the groups", aws.String("bob"), nil, "bob", []string{}},
		{"both", aws.String("carol:{{SessionName}}"), []string{"a", "b"}, "carol:{{SessionName}}", []string{"a", "b"}},
		{"empty group list clears groups", aws.String("carol"), []string{}, "carol", []string{}},
		{"neither resets both", nil, nil, defaultUser, []string{}},
	}
	for _, st := range steps {
		out, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{
			ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
			Username: st.username, KubernetesGroups: st.groups,
		})
		mustOK(t, err, st.name)
		desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
		mustOK(t, err, "describe")
		for _, e := range []*types.AccessEntry{out.AccessEntry, desc.AccessEntry} {
			if aws.ToString(e.Username) != st.wantUser || !slices.Equal(e.KubernetesGroups, st.wantGroup) {
				t.Errorf("%s: got username %q groups %q, want %q %q", st.name, aws.ToString(e.Username), e.KubernetesGroups, st.wantUser, st.wantGroup)
			}
			if !e.CreatedAt.Equal(*created.CreatedAt) || !e.ModifiedAt.After(*created.ModifiedAt) {
				t.Errorf("%s: createdAt %v modifiedAt %v; want createdAt kept and modifiedAt moved", st.name, e.CreatedAt, e.ModifiedAt)
			}
		}
	}

	_, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), Username: aws.String("system:x")})
	wantErr[*types.InvalidParameterException](t, err, "must not begin with system:")
	_, err = c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole), KubernetesGroups: []string{"system:masters"}})
	wantErr[*types.InvalidParameterException](t, err, "cannot start with system:")
	_, err = c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(roleARN(testAccount, "nobody"))})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
}

func TestUpdateNodeAccessEntryKeepsEKSGroups(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	node := roleARN(testAccount, "ng-win")
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(node), Type: aws.String("EC2_WINDOWS")})
	_, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node), KubernetesGroups: []string{"extra"}})
	wantErr[*types.InvalidParameterException](t, err, "kubernetesGroups cannot be specified")
	_, err = c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node), Username: aws.String("me")})
	wantErr[*types.InvalidParameterException](t, err, "username cannot be specified")
	out, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(node)})
	mustOK(t, err, "empty update of a node entry")
	if want := []string{"system:nodes", "eks:kube-proxy-windows"}; !slices.Equal(out.AccessEntry.KubernetesGroups, want) {
		t.Fatalf("groups = %q, want %q", out.AccessEntry.KubernetesGroups, want)
	}
}

func TestDeleteAccessEntryRemovesAssociations(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
		ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole),
		PolicyArn: aws.String(AccessPolicyARN("AmazonEKSViewPolicy")), AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster},
	})
	mustOK(t, err, "associate")

	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "delete")
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	wantErr[*types.ResourceNotFoundException](t, err, msgEntryNotFound)
	list, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), AssociatedPolicyArn: aws.String(AccessPolicyARN("AmazonEKSViewPolicy"))})
	mustOK(t, err, "list by policy")
	if len(list.AccessEntries) != 0 {
		t.Fatalf("deleted entry still listed under its policy: %v", list.AccessEntries)
	}

	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	pols, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	mustOK(t, err, "list associated after recreate")
	if len(pols.AssociatedAccessPolicies) != 0 {
		t.Fatalf("recreated entry inherited associations: %+v", pols.AssociatedAccessPolicies)
	}
}

func TestListAccessEntriesPagination(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	var want []string
	for i := range 25 {
		arn := roleARN(testAccount, fmt.Sprintf("role-%02d", i))
		createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(arn)})
		want = append(want, arn)
	}
	p := eks.NewListAccessEntriesPaginator(c, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), MaxResults: aws.Int32(10)})
	var got []string
	var sizes []int
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		mustOK(t, err, "page")
		sizes = append(sizes, len(page.AccessEntries))
		got = append(got, page.AccessEntries...)
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("page sizes = %v, want [10 10 5]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged entries = %v, want %v", got, want)
	}

	all, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster)})
	mustOK(t, err, "list without maxResults")
	if len(all.AccessEntries) != 25 || all.NextToken != nil {
		t.Errorf("default page: %d entries, nextToken %v; want 25 and none", len(all.AccessEntries), all.NextToken)
	}
	for _, bad := range []int32{0, 101} {
		_, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), MaxResults: aws.Int32(bad)})
		wantErr[*types.InvalidParameterException](t, err, "maxResults")
	}
	_, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), NextToken: aws.String("garbage")})
	wantErr[*types.InvalidParameterException](t, err, "nextToken")
}

func TestListAccessEntriesAssociatedPolicyFilter(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	view, admin := AccessPolicyARN("AmazonEKSViewPolicy"), AccessPolicyARN("AmazonEKSAdminPolicy")
	a, b, d := roleARN(testAccount, "a"), roleARN(testAccount, "b"), roleARN(testAccount, "d")
	for _, p := range []string{a, b, d} {
		createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(p)})
	}
	for _, x := range []struct{ principal, policy string }{{a, view}, {b, view}, {b, admin}} {
		_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{
			ClusterName: aws.String(testCluster), PrincipalArn: aws.String(x.principal), PolicyArn: aws.String(x.policy),
			AccessScope: &types.AccessScope{Type: types.AccessScopeTypeNamespace, Namespaces: []string{"dev"}},
		})
		mustOK(t, err, "associate")
	}
	tests := []struct {
		policy string
		want   []string
	}{
		{view, []string{a, b}},
		{admin, []string{b}},
		{AccessPolicyARN("AmazonEKSEditPolicy"), []string{}},
		{"", []string{a, b, d}},
	}
	for _, tt := range tests {
		in := &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster)}
		if tt.policy != "" {
			in.AssociatedPolicyArn = aws.String(tt.policy)
		}
		out, err := c.ListAccessEntries(ctx, in)
		mustOK(t, err, "list")
		if !slices.Equal(out.AccessEntries, tt.want) {
			t.Errorf("filter %q: got %v, want %v", tt.policy, out.AccessEntries, tt.want)
		}
	}
	_, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster), AssociatedPolicyArn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")})
	wantErr[*types.InvalidParameterException](t, err, "not a valid access policy")
}

func TestConfigMapClusterRefusesAccessEntryCalls(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: "legacy", AuthenticationMode: ModeConfigMap}}})
	c := eksClient(s)
	name, p := aws.String("legacy"), aws.String(myRole)
	pol := aws.String(AccessPolicyARN("AmazonEKSViewPolicy"))
	calls := map[string]func() error{
		"CreateAccessEntry": func() error {
			_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: name, PrincipalArn: p})
			return err
		},
		"ListAccessEntries": func() error {
			_, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: name})
			return err
		},
		"DescribeAccessEntry": func() error {
			_, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: name, PrincipalArn: p})
			return err
		},
		"UpdateAccessEntry": func() error {
			_, err := c.UpdateAccessEntry(ctx, &eks.UpdateAccessEntryInput{ClusterName: name, PrincipalArn: p})
			return err
		},
		"DeleteAccessEntry": func() error {
			_, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: name, PrincipalArn: p})
			return err
		},
		"AssociateAccessPolicy": func() error {
			_, err := c.AssociateAccessPolicy(ctx, &eks.AssociateAccessPolicyInput{ClusterName: name, PrincipalArn: p, PolicyArn: pol, AccessScope: &types.AccessScope{Type: types.AccessScopeTypeCluster}})
			return err
		},
		"ListAssociatedAccessPolicies": func() error {
			_, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: name, PrincipalArn: p})
			return err
		},
		"DisassociateAccessPolicy": func() error {
			_, err := c.DisassociateAccessPolicy(ctx, &eks.DisassociateAccessPolicyInput{ClusterName: name, PrincipalArn: p, PolicyArn: pol})
			return err
		},
	}
	for op, call := range calls {
		t.Run(op, func(t *testing.T) {
			wantErr[*types.InvalidRequestException](t, call(), "The authentication mode of the cluster must be set to one of [API, API_AND_CONFIG_MAP]")
		})
	}
	out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: name})
	mustOK(t, err, "DescribeCluster works in CONFIG_MAP mode")
	if out.Cluster.AccessConfig.AuthenticationMode != types.AuthenticationModeConfigMap {
		t.Fatalf("mode = %q", out.Cluster.AccessConfig.AuthenticationMode)
	}
}

func TestUnknownClusterAndRegion(t *testing.T) {
	s := startServer(t, Config{})
	c := eksClient(s)
	_, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, "No cluster found for name: nope.")
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String("nope"), PrincipalArn: aws.String(myRole)})
	wantErr[*types.ResourceNotFoundException](t, err, "No cluster found")
	_, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String("nope")})
	wantErr[*types.ResourceNotFoundException](t, err, "No cluster found")

	// The demo cluster lives in us-west-2: the same name in another region is another cluster.
	east := eksClientIn(s, "us-east-1", defaultCreds)
	_, err = east.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	wantErr[*types.ResourceNotFoundException](t, err, "No cluster found for name: demo.")
}

func TestStrictPrincipals(t *testing.T) {
	s := startServer(t, Config{Principals: []string{myRole}})
	c := eksClient(s)
	_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(roleARN(testAccount, "ghost"))})
	wantErr[*types.InvalidParameterException](t, err, msgInvalidPrincip)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	if id := s.PrincipalID(myRole); !regexp.MustCompile(`^AROA[A-Z2-7]{17}$`).MatchString(id) {
		t.Fatalf("role ID %q is not an IAM role ID", id)
	}
}

func TestCreatorAdminEntry(t *testing.T) {
	creator := roleARN(testAccount, "cluster-creator")
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, CreatorAdmin: creator}}})
	c := eksClient(s)
	desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(creator)})
	mustOK(t, err, "describe creator entry")
	if aws.ToString(desc.AccessEntry.Type) != "STANDARD" || aws.ToString(desc.AccessEntry.Username) != "arn:aws:sts::111122223333:assumed-role/cluster-creator/{{SessionName}}" {
		t.Errorf("creator entry = %+v", desc.AccessEntry)
	}
	pols, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(creator)})
	mustOK(t, err, "list creator policies")
	if len(pols.AssociatedAccessPolicies) != 1 || aws.ToString(pols.AssociatedAccessPolicies[0].PolicyArn) != ClusterAdminPolicyARN ||
		pols.AssociatedAccessPolicies[0].AccessScope.Type != types.AccessScopeTypeCluster {
		t.Errorf("creator policies = %+v", pols.AssociatedAccessPolicies)
	}
	cl, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(testCluster)})
	mustOK(t, err, "describe cluster")
	if !aws.ToBool(cl.Cluster.AccessConfig.BootstrapClusterCreatorAdminPermissions) {
		t.Errorf("bootstrapClusterCreatorAdminPermissions not set")
	}
}

// A cluster's quota of access entries: the create over it is refused; deleting an
// entry makes room again.
func TestCreateAccessEntryOverTheQuota(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, Account: testAccount, Region: testRegion, MaxAccessEntries: 2}}})
	c := eksClient(s)
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(myRole)})
	createEntry(t, c, &eks.CreateAccessEntryInput{PrincipalArn: aws.String(roleARN(testAccount, "second"))})
	third := &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(roleARN(testAccount, "third"))}
	_, err := c.CreateAccessEntry(ctx, third)
	wantErr[*types.ResourceLimitExceededException](t, err, "already has 2 access entries, its limit")
	if _, err := c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAccessEntry(ctx, third); err != nil {
		t.Fatalf("create after a delete made room: %v", err)
	}
}

// TestBackdate: a test can make an entry look made long ago, as DescribeAccessEntry
// then reports it.
func TestBackdate(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{{Name: testCluster, Account: testAccount, Region: testRegion, AuthenticationMode: ModeAPI}}})
	cl := eksClient(s)
	ctx := context.Background()
	if _, err := cl.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)}); err != nil {
		t.Fatal(err)
	}
	if s.Backdate(testAccount, testRegion, testCluster, "arn:aws:iam::111122223333:role/nobody", time.Hour) {
		t.Error("Backdate of an entry that does not exist reported true")
	}
	if !s.Backdate(testAccount, testRegion, testCluster, myRole, time.Hour) {
		t.Fatal("Backdate found no entry")
	}
	out, err := cl.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(myRole)})
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(aws.ToTime(out.AccessEntry.CreatedAt)); age < 59*time.Minute || age > 61*time.Minute {
		t.Errorf("the entry reads as created %s ago, want an hour", age)
	}
}
