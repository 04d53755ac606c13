package eksemulator

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

var (
	ngRole      = roleARN(testAccount, "ng-role")
	winRole     = roleARN(testAccount, "ng-windows")
	podExecRole = roleARN(testAccount, "pod-exec")
	autoCluster = roleARN(testAccount, "auto-cluster")
	autoNodes   = roleARN(testAccount, "auto-nodes")
	ackRole     = roleARN(testAccount, "ack")
	kroRole     = roleARN(testAccount, "kro")
	argoRole    = roleARN(testAccount, "argocd")
)

// madeCluster has every kind of entry EKS makes itself.
func madeCluster(mode string) ClusterConfig {
	return ClusterConfig{
		Name: testCluster, AuthenticationMode: mode, CreatorAdmin: myRole,
		NodeGroups: []NodeGroupConfig{
			{Name: "ng-a", NodeRoleARN: ngRole}, {Name: "ng-b", NodeRoleARN: ngRole},
			{Name: "ng-win", NodeRoleARN: winRole, Windows: true},
		},
		FargateProfiles: []FargateProfileConfig{{Name: "fp", PodExecutionRoleARN: podExecRole}},
		AutoMode:        &AutoModeConfig{ClusterRoleARN: autoCluster, NodeRoleARN: autoNodes},
		Capabilities: []CapabilityConfig{
			{Name: "ack", Type: "ACK", RoleARN: ackRole},
			{Name: "kro", Type: "KRO", RoleARN: kroRole},
			{Name: "argo", Type: "ARGOCD", RoleARN: argoRole, Namespace: "gitops"},
		},
	}
}

type wantMade struct {
	typ      string
	username string
	groups   []string
	policies []string // "NAME" at cluster scope, "NAME@ns" at namespace scope
}

var wantMadeEntries = map[string]wantMade{
	myRole:      {"STANDARD", "arn:aws:sts::111122223333:assumed-role/my-role/{{SessionName}}", []string{}, []string{"AmazonEKSClusterAdminPolicy"}},
	ngRole:      {"EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}, nil},
	winRole:     {"EC2_WINDOWS", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes", "eks:kube-proxy-windows"}, nil},
	podExecRole: {"FARGATE_LINUX", "system:node:{{SessionName}}", []string{"system:nodes"}, nil},
	autoCluster: {"STANDARD", "arn:aws:sts::111122223333:assumed-role/auto-cluster/{{SessionName}}", []string{}, []string{
		"AmazonEKSBlockStorageClusterPolicy", "AmazonEKSBlockStoragePolicy", "AmazonEKSComputeClusterPolicy", "AmazonEKSComputePolicy",
		"AmazonEKSLoadBalancingClusterPolicy", "AmazonEKSLoadBalancingPolicy", "AmazonEKSNetworkingClusterPolicy", "AmazonEKSNetworkingPolicy",
	}},
	autoNodes: {"EC2", "system:node:{{EC2PrivateDNSName}}", []string{"system:nodes"}, []string{"AmazonEKSAutoNodePolicy"}},
	ackRole:   {"STANDARD", "arn:aws:sts::111122223333:assumed-role/ack/{{SessionName}}", []string{}, []string{"AmazonEKSACKPolicy"}},
	kroRole:   {"STANDARD", "arn:aws:sts::111122223333:assumed-role/kro/KRO", []string{}, []string{"AmazonEKSKROPolicy"}},
	argoRole:  {"STANDARD", "arn:aws:sts::111122223333:assumed-role/argocd/{{SessionName}}", []string{}, []string{"AmazonEKSArgoCDClusterPolicy", "AmazonEKSArgoCDPolicy@gitops"}},
}

// checkMadeEntries compares what EKS's API shows with wantMadeEntries.
func checkMadeEntries(t *testing.T, s *Server, c *eks.Client) {
	t.Helper()
	list, err := c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: aws.String(testCluster)})
	mustOK(t, err, "ListAccessEntries")
	if len(list.AccessEntries) != len(wantMadeEntries) {
		t.Fatalf("entries = %v, want one per principal of %d", list.AccessEntries, len(wantMadeEntries))
	}
	for principal, want := range wantMadeEntries {
		desc, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal)})
		mustOK(t, err, "describe "+principal)
		e := desc.AccessEntry
		if aws.ToString(e.Type) != want.typ || aws.ToString(e.Username) != want.username || !slices.Equal(e.KubernetesGroups, want.groups) || len(e.Tags) != 0 {
			t.Errorf("%s: type %s username %s groups %q tags %v; want %s %s %q and no tags",
				principal, aws.ToString(e.Type), aws.ToString(e.Username), e.KubernetesGroups, e.Tags, want.typ, want.username, want.groups)
		}
		var got []string
		for _, p := range entryOf(s.Entries(testAccount, testRegion, testCluster), principal).Policies {
			name := p.PolicyARN[strings.LastIndex(p.PolicyARN, "/")+1:]
			if p.ScopeType == "namespace" {
				name += "@" + strings.Join(p.Namespaces, ",")
			}
			got = append(got, name)
		}
		if !slices.Equal(got, want.policies) {
			t.Errorf("%s: policies %q, want %q", principal, got, want.policies)
		}
		if want.typ == "STANDARD" || want.typ == "EC2" {
			pols, err := c.ListAssociatedAccessPolicies(ctx, &eks.ListAssociatedAccessPoliciesInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(principal)})
			mustOK(t, err, "list policies of "+principal)
			if len(pols.AssociatedAccessPolicies) != len(want.policies) {
				t.Errorf("%s: ListAssociatedAccessPolicies shows %d policies", principal, len(pols.AssociatedAccessPolicies))
			}
		}
	}
}

func TestEKSMadeEntriesExistFromTheStart(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{madeCluster(ModeAPI)}, Principals: []string{}})
	c := eksClient(s)
	checkMadeEntries(t, s, c)
	// Their roles exist in IAM, even in strict mode with no principals listed.
	for principal := range wantMadeEntries {
		if s.PrincipalID(principal) == "" {
			t.Errorf("%s does not exist in IAM", principal)
		}
	}
	// And they are ordinary entries afterwards: a second create is in use.
	_, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: aws.String(testCluster), PrincipalArn: aws.String(ngRole), Type: aws.String("EC2_LINUX")})
	wantErr[*types.ResourceInUseException](t, err, msgEntryInUse)
}

func TestEKSMadeEntriesWaitForTheAPI(t *testing.T) {
	s := startServer(t, Config{Clusters: []ClusterConfig{madeCluster(ModeConfigMap)}, UpdateDuration: 50 * time.Millisecond})
	c := eksClient(s)
	if n := len(s.Entries(testAccount, testRegion, testCluster)); n != 0 {
		t.Fatalf("%d entries on a CONFIG_MAP cluster", n)
	}
	out, err := updateMode(c, testCluster, types.AuthenticationModeApiAndConfigMap)
	mustOK(t, err, "update mode")
	waitForUpdate(t, c, testCluster, aws.ToString(out.Update.Id))
	checkMadeEntries(t, s, c)
}

func TestEKSMadeEntriesFromTheFile(t *testing.T) {
	cfg, err := LoadConfig(writeFile(t, `
clusters:
  - name: demo
    account: "111122223333"
    region: us-west-2
    nodeGroups:
      - {name: ng-a, nodeRoleArn: "arn:aws:iam::111122223333:role/ng-role"}
      - {name: ng-win, nodeRoleArn: "arn:aws:iam::111122223333:role/ng-windows", windows: true}
    fargateProfiles:
      - {name: fp, podExecutionRoleArn: "arn:aws:iam::111122223333:role/pod-exec"}
    autoMode: {clusterRoleArn: "arn:aws:iam::111122223333:role/auto-cluster", nodeRoleArn: "arn:aws:iam::111122223333:role/auto-nodes"}
    capabilities:
      - {name: kro, type: KRO, roleArn: "arn:aws:iam::111122223333:role/kro"}
      - {name: argo, type: ARGOCD, roleArn: "arn:aws:iam::111122223333:role/argocd"}
`))
	mustOK(t, err, "LoadConfig")
	cc := cfg.Clusters[0]
	if len(cc.NodeGroups) != 2 || !cc.NodeGroups[1].Windows || cc.FargateProfiles[0].PodExecutionRoleARN != podExecRole ||
		cc.AutoMode.NodeRoleARN != autoNodes || len(cc.Capabilities) != 2 || cc.Capabilities[1].Type != CapabilityArgoCD {
		t.Fatalf("cluster = %+v", cc)
	}
	s, err := New(cfg)
	mustOK(t, err, "New")
	got := map[string]string{}
	for _, e := range s.Entries(testAccount, testRegion, testCluster) {
		got[e.PrincipalARN] = e.Type
		if e.PrincipalARN == argoRole && (len(e.Policies) != 2 || e.Policies[1].Namespaces[0] != "argocd") {
			t.Errorf("Argo CD policies = %+v, want AmazonEKSArgoCDPolicy in the default namespace argocd", e.Policies)
		}
	}
	want := map[string]string{ngRole: "EC2_LINUX", winRole: "EC2_WINDOWS", podExecRole: "FARGATE_LINUX", autoCluster: "STANDARD", autoNodes: "EC2", kroRole: "STANDARD", argoRole: "STANDARD"}
	if len(got) != len(want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	for p, typ := range want {
		if got[p] != typ {
			t.Errorf("%s: type %q, want %s", p, got[p], typ)
		}
	}
}

func TestEKSMadeEntriesRefuseImpossibleConfigs(t *testing.T) {
	other := roleARN(otherAccount, "ng")
	tests := []struct {
		name string
		edit func(*ClusterConfig)
		want string
	}{
		{"node role of another account", func(c *ClusterConfig) { c.NodeGroups = []NodeGroupConfig{{Name: "ng", NodeRoleARN: other}} }, "nodeGroups[0].nodeRoleArn: " + other + " is not in the cluster's account 111122223333"},
		{"node role that is a user", func(c *ClusterConfig) {
			c.NodeGroups = []NodeGroupConfig{{Name: "ng", NodeRoleARN: "arn:aws:iam::111122223333:user/u"}}
		}, "is not an IAM role"},
		{"malformed pod execution role", func(c *ClusterConfig) {
			c.FargateProfiles = []FargateProfileConfig{{Name: "fp", PodExecutionRoleARN: "pod-exec"}}
		}, "fargateProfiles[0].podExecutionRoleArn: The specified principalArn is invalid"},
		{"role of another partition", func(c *ClusterConfig) {
			c.AutoMode = &AutoModeConfig{ClusterRoleARN: "arn:aws-cn:iam::111122223333:role/auto"}
		}, "is in partition aws-cn, the cluster (region us-west-2) in aws"},
		{"node group without a name", func(c *ClusterConfig) { c.NodeGroups = []NodeGroupConfig{{NodeRoleARN: ngRole}} }, "nodeGroups[0].name is required"},
		{"Auto Mode without a cluster role", func(c *ClusterConfig) { c.AutoMode = &AutoModeConfig{NodeRoleARN: autoNodes} }, "autoMode.clusterRoleArn is required"},
		{"unknown capability type", func(c *ClusterConfig) {
			c.Capabilities = []CapabilityConfig{{Name: "x", Type: "FLUX", RoleARN: ackRole}}
		}, `capabilities[0].type "FLUX" must be one of ACK, ARGOCD, KRO`},
		{"namespace on a kro capability", func(c *ClusterConfig) {
			c.Capabilities = []CapabilityConfig{{Name: "x", Type: "KRO", RoleARN: kroRole, Namespace: "kro"}}
		}, "for ARGOCD capabilities only"},
		{"bad Argo CD namespace", func(c *ClusterConfig) {
			c.Capabilities = []CapabilityConfig{{Name: "x", Type: "ARGOCD", RoleARN: argoRole, Namespace: "Argo_CD"}}
		}, "not a Kubernetes namespace name"},
		{"creator as node role", func(c *ClusterConfig) {
			c.CreatorAdmin = ngRole
			c.NodeGroups = []NodeGroupConfig{{Name: "ng", NodeRoleARN: ngRole}}
		}, "nodeGroups[0].nodeRoleArn: " + ngRole + " already has the access entry of creatorAdmin"},
		{"Linux and Windows node groups sharing a role", func(c *ClusterConfig) {
			c.NodeGroups = []NodeGroupConfig{{Name: "a", NodeRoleARN: ngRole}, {Name: "b", NodeRoleARN: ngRole, Windows: true}}
		}, "nodeGroups[1].nodeRoleArn: " + ngRole + " already has the access entry of nodeGroups[0].nodeRoleArn"},
		{"Fargate and Auto Mode sharing a role", func(c *ClusterConfig) {
			c.FargateProfiles = []FargateProfileConfig{{Name: "fp", PodExecutionRoleARN: autoNodes}}
			c.AutoMode = &AutoModeConfig{ClusterRoleARN: autoCluster, NodeRoleARN: autoNodes}
		}, "autoMode.nodeRoleArn: " + autoNodes + " already has the access entry of fargateProfiles[0]"},
		{"two capabilities with one role", func(c *ClusterConfig) {
			c.Capabilities = []CapabilityConfig{{Name: "a", Type: "ACK", RoleARN: ackRole}, {Name: "k", Type: "KRO", RoleARN: ackRole}}
		}, "capabilities[1].roleArn"},
		{"creator of another partition", func(c *ClusterConfig) { c.CreatorAdmin = "arn:aws-us-gov:iam::111122223333:user/u" }, "creatorAdmin: arn:aws-us-gov"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := ClusterConfig{Name: testCluster}
			tt.edit(&cc)
			_, err := New(Config{Clusters: []ClusterConfig{cc}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The creator may be a user, or a role of another account.
	for _, creator := range []string{"arn:aws:iam::444455556666:role/admin", "arn:aws:iam::111122223333:user/alice"} {
		if _, err := New(Config{Clusters: []ClusterConfig{{Name: testCluster, CreatorAdmin: creator}}}); err != nil {
			t.Errorf("creator %s refused: %v", creator, err)
		}
	}
}
