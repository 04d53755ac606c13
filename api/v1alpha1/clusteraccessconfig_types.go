package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuthenticationMode is how an EKS cluster authenticates IAM principals.
// +kubebuilder:validation:Enum=API_AND_CONFIG_MAP;API
type AuthenticationMode string

// The authentication modes a ClusterAccessConfig can ask for. CONFIG_MAP, the mode
// of clusters that predate access entries, cannot be asked for: EKS never goes back.
const (
	AuthenticationModeAPIAndConfigMap AuthenticationMode = "API_AND_CONFIG_MAP"
	AuthenticationModeAPI             AuthenticationMode = "API"
)

// UnmanagedEntriesPolicy says what happens to entries of the cluster that no
// AccessEntry declares.
// +kubebuilder:validation:Enum=Keep;Delete
type UnmanagedEntriesPolicy string

const (
	// UnmanagedKeep reports unmanaged entries and leaves them alone.
	UnmanagedKeep UnmanagedEntriesPolicy = "Keep"
	// UnmanagedDelete deletes unmanaged entries that no protect pattern covers.
	UnmanagedDelete UnmanagedEntriesPolicy = "Delete"
)

// Condition reasons of ClusterAccessConfig and the AccessEntries it governs.
const (
	// ReasonNotPermitted: the AccessEntry asks for something no guardrail rule of
	// its ClusterAccessConfig allows its namespace (or there is no config, and its
	// namespace is not trusted or the operator requires one).
	ReasonNotPermitted = "NotPermitted"
	// ReasonUpdatingAuthenticationMode: EKS is changing the cluster's mode.
	ReasonUpdatingAuthenticationMode = "UpdatingAuthenticationMode"
	// ReasonClusterUpdating: the cluster is UPDATING; AccessEntries wait for it.
	ReasonClusterUpdating = "ClusterUpdating"
	// ReasonUpdateFailed: EKS reported the authentication-mode update failed.
	ReasonUpdateFailed = "UpdateFailed"
	// ReasonAmbiguousClusterConfig: more than one ClusterAccessConfig names the
	// AccessEntry's cluster and region.
	ReasonAmbiguousClusterConfig = "AmbiguousClusterConfig"
	// ReasonInUse: the ClusterAccessConfig is being deleted and AccessEntries still
	// depend on it.
	ReasonInUse = "InUse"
	// ReasonPruningRefused: the operator could not list every AccessEntry of the
	// cluster, so it does not prune.
	ReasonPruningRefused = "PruningRefused"

	// ReleaseAnnotation, set to "true" on a ClusterAccessConfig being deleted, lets
	// it go although AccessEntries still depend on it.
	ReleaseAnnotation = "eksaccess.io/release"
)

// Enforcement says what happens to what the operator manages when the guardrails
// stop allowing it.
// +kubebuilder:validation:Enum=Revoke;Report
type Enforcement string

const (
	// EnforcementRevoke removes from EKS what the guardrails no longer allow: the
	// forbidden policies, groups or username of an entry, or the whole entry.
	EnforcementRevoke Enforcement = "Revoke"
	// EnforcementReport reports what Revoke would remove, and changes nothing:
	// a dry run before tightening the guardrails.
	EnforcementReport Enforcement = "Report"
)

// Guardrails say which namespaces may grant access to the cluster and what each may
// grant. They hold every AccessEntry outside the operator's trusted namespaces
// (--trusted-namespaces): such an AccessEntry is honoured only when one rule admits
// its namespace and allows everything it asks for. Rules are allow-lists: what a
// rule does not mention, it does not allow.
type Guardrails struct {
	// Rules admit namespaces and say what their AccessEntries may grant. Each rule
	// is complete on its own: an AccessEntry must fit one rule entirely.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Rules []GrantRule `json:"rules,omitempty"`

	// MaxTenantEntries is the room tenants may take of the cluster's quota of
	// access entries: AccessEntries outside the trusted namespaces beyond it (the
	// newest, counting from each namespace at most its maxEntriesPerNamespace) are
	// NotPermitted, so that the platform's own AccessEntries always find room.
	// EKS's quota per cluster is adjustable: keep this below yours, less what the
	// platform, its nodes and EKS itself need.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=1
	MaxTenantEntries int32 `json:"maxTenantEntries,omitempty"`

	// Enforcement says what happens when the guardrails stop allowing what an
	// AccessEntry holds in EKS (a rule was tightened, or the AccessEntry's namespace
	// lost its rule): Revoke (the default) removes it at once; Report only
	// says, in the AccessEntry's status, what Revoke would remove.
	// +optional
	// +kubebuilder:default=Revoke
	Enforcement Enforcement `json:"enforcement,omitempty"`
}

// NamespacePattern is a namespace name, a prefix ending in '*' such as "team-a-*",
// or '*' alone. The token {{namespace}} stands for the AccessEntry's own namespace,
// as in "{{namespace}}" or "{{namespace}}-*".
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=80
// +kubebuilder:validation:Pattern=`^([*]|([a-z0-9-]|\{\{namespace\}\})+[*]?)$`
type NamespacePattern string

// Pattern is a value in which '*' matches any run of characters and {{namespace}}
// stands for the AccessEntry's own namespace.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
type Pattern string

// RuleNamespaces are the namespaces a rule admits: those it names and those its
// selector matches.
// +kubebuilder:validation:XValidation:rule="(has(self.names) && size(self.names) > 0) || has(self.selector)",message="namespaces needs names, a selector, or both: a rule must say which namespaces it admits"
type RuleNamespaces struct {
	// Names of the namespaces admitted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Names []string `json:"names,omitempty"`

	// Selector admits the namespaces whose labels it matches. Anyone who may label
	// a namespace can meet it: keep that right (cluster-scoped) away from tenants.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// RulePrincipals are the IAM roles and users AccessEntries may name.
type RulePrincipals struct {
	// Accounts whose roles and users may be named (12-digit account IDs).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[0-9]{12}$`
	Accounts []string `json:"accounts,omitempty"`

	// ARNs of roles and users that may be named, as patterns such as
	// arn:aws:iam::111122223333:role/{{namespace}}-*.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	ARNs []Pattern `json:"arns,omitempty"`

	// PermissionSets are the IAM Identity Center permission sets AccessEntries
	// may name (spec.identityCenter), as name patterns such as "Developers" or
	// "{{namespace}}-*", in the cluster's account; a set in another account
	// needs that account in accounts as well. The role a set resolves to is
	// still judged as a principal: one the platform reserves is refused
	// whatever this says, and arns or accounts that allow the role allow the
	// set too.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	PermissionSets []Pattern `json:"permissionSets,omitempty"`
}

// PolicyGrant is an access policy a rule allows, and where.
type PolicyGrant struct {
	// PolicyARN of the access policy, such as
	// arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy.
	// +required
	// +kubebuilder:validation:MaxLength=256
	PolicyARN string `json:"policyARN"`

	// ClusterScope allows the policy at cluster scope: every namespace, and
	// cluster-wide objects.
	// +optional
	ClusterScope bool `json:"clusterScope,omitempty"`

	// Namespaces the policy may be scoped to. A scope with a wildcard ('dev-*') is
	// allowed only when every namespace it can match is allowed. Empty: the
	// AccessEntry's own namespace only, as if ["{{namespace}}"].
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Namespaces []NamespacePattern `json:"namespaces,omitempty"`
}

// GrantRule admits namespaces and says what their AccessEntries may grant. What it
// does not mention it does not allow, beyond a safe default: STANDARD entries, the
// username EKS derives; no principals, Kubernetes groups, access policies or
// adoption.
// +kubebuilder:validation:XValidation:rule="!has(self.timeBound) || !has(self.allowRetain) || !self.allowRetain",message="a time-bound rule cannot allow Retain: its grants are deleted when they expire. Remove allowRetain, or timeBound"
// +kubebuilder:validation:XValidation:rule="!has(self.timeBound) || !has(self.allowAdoption) || !self.allowAdoption",message="a time-bound rule cannot allow adoption: a grant makes its own entry and deletes it at expiry. Remove allowAdoption, or timeBound"
type GrantRule struct {
	// Name of the rule, for messages and review.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Namespaces the rule admits.
	// +required
	Namespaces RuleNamespaces `json:"namespaces"`

	// Principals the AccessEntries may name. Empty: none; list the roles and
	// users (or whole accounts) the rule's namespaces may grant access to.
	// Whatever this says, principals that spec.unmanagedEntries.protect names,
	// that an AccessEntry in a trusted namespace declares, or that EKS made
	// entries for are never a tenant's to name.
	// +optional
	Principals RulePrincipals `json:"principals,omitempty"`

	// Types of entry allowed. Empty: STANDARD only.
	// +optional
	// +listType=set
	Types []AccessEntryType `json:"types,omitempty"`

	// AccessPolicies the AccessEntries may associate, each with the scopes it may
	// take. Empty: none.
	// +optional
	// +listType=map
	// +listMapKey=policyARN
	// +kubebuilder:validation:MaxItems=64
	AccessPolicies []PolicyGrant `json:"accessPolicies,omitempty"`

	// KubernetesGroups the AccessEntries may give, as patterns such as
	// "{{namespace}}-*". Empty: none.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	KubernetesGroups []Pattern `json:"kubernetesGroups,omitempty"`

	// Usernames the AccessEntries may set, as patterns such as
	// "{{namespace}}:{{SessionName}}" or "{{namespace}}:*". Empty: spec.username
	// must be empty, and EKS derives the username from the principal.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Usernames []Pattern `json:"usernames,omitempty"`

	// MaxEntriesPerNamespace is how many AccessEntries each namespace the rule
	// admits may hold on the cluster: its oldest ones (by creation, then name);
	// those beyond are NotPermitted and hold nothing in EKS, so that one team
	// cannot fill the cluster's quota of access entries.
	// +optional
	// +kubebuilder:default=25
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxEntriesPerNamespace int32 `json:"maxEntriesPerNamespace,omitempty"`

	// AllowAdoption lets the AccessEntries take over existing entries
	// (eksaccess.io/adopt: "true"): only entries that hold nothing beyond this
	// rule, and never one that unmanagedEntries.protect names or that EKS made for
	// the cluster's creator.
	// +optional
	AllowAdoption bool `json:"allowAdoption,omitempty"`

	// AllowRetain lets the AccessEntries set spec.deletionPolicy: Retain, and so
	// leave their entries in EKS when they are deleted or move away. Such a leftover
	// stays held to this rule: pruning removes from it what the rule stops allowing,
	// and deletes it when no rule with allowRetain admits its namespace any more.
	// Default false: an AccessEntry's entry goes with it.
	// +optional
	AllowRetain bool `json:"allowRetain,omitempty"`

	// TimeBound makes the rule one for time-bound grants only: it allows no
	// standing AccessEntry. An AccessEntry fits it only as the grant of an
	// AccessRequest of its namespace, approved by people the rule names, for no
	// longer than maxDuration. A namespace may have a standing rule and a
	// time-bound one: list ClusterAdmin, say, only in the latter, and nobody
	// holds it for longer than a grant.
	// +optional
	TimeBound *TimeBoundGrants `json:"timeBound,omitempty"`
}

// TimeBoundGrants say how a rule's time-bound grants are asked for and given.
type TimeBoundGrants struct {
	// MaxDuration is the longest grant the rule allows, such as 4h.
	// +required
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('720h')",message="maxDuration must be between 1m and 720h (30 days), such as 4h"
	MaxDuration metav1.Duration `json:"maxDuration"`

	// Approvers are the people who may approve the rule's requests, never their
	// own.
	// +required
	Approvers Approvers `json:"approvers"`

	// Approvals is how many different approvers must approve a request.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Approvals int32 `json:"approvals,omitempty"`

	// PendingFor is how long a request waits for its approvals; after it, the
	// request has expired and an approval grants nothing.
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('168h')",message="pendingFor must be between 1m and 168h (7 days)"
	PendingFor *metav1.Duration `json:"pendingFor,omitempty"`

	// BreakGlass are the people who may grant themselves the rule's access with
	// no approval, for an emergency. Each use is loud: a Warning event, a metric
	// and an alert.
	// +optional
	BreakGlass *Approvers `json:"breakGlass,omitempty"`
}

// Approvers are people, by Kubernetes username or group, as the API server
// authenticates them.
// +kubebuilder:validation:XValidation:rule="(has(self.users) && size(self.users) > 0) || (has(self.groups) && size(self.groups) > 0)",message="name at least one user or group"
type Approvers struct {
	// Users by username.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	Users []string `json:"users,omitempty"`

	// Groups by name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.all(g, !(g in ['system:authenticated', 'system:unauthenticated', 'system:serviceaccounts']))",message="groups must not be system:authenticated, system:unauthenticated or system:serviceaccounts: every user (or every ServiceAccount) is in them, so anyone could approve"
	Groups []string `json:"groups,omitempty"`
}

// UnmanagedEntries says what to do with entries of the cluster no AccessEntry
// declares, such as the admin entry EKS makes for the cluster's creator.
type UnmanagedEntries struct {
	// Policy is Keep (report them) or Delete (delete those no protect pattern covers).
	// +optional
	// +kubebuilder:default=Keep
	Policy UnmanagedEntriesPolicy `json:"policy,omitempty"`

	// Protect lists principal ARN patterns never deleted; '*' matches any run of
	// characters, as in arn:aws:iam::111122223333:role/break-glass-*.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:XValidation:rule="self.all(p, !p.startsWith('type:'))",message="protect takes principal ARN patterns only: entries of node types are protected already; to let Delete remove them, list type:TYPE in spec.unmanagedEntries.deleteAlso"
	Protect []string `json:"protect,omitempty"`

	// DeleteAlso lets Delete remove entries it otherwise keeps because EKS made
	// them, or may have: entries of node types (node groups, Fargate profiles, EKS
	// Auto Mode nodes, self-managed nodes), entries of service-linked roles,
	// entries carrying an access policy EKS associates for its own components
	// (EKS Auto Mode, EKS Capabilities, HyperPod and the like: every policy but
	// AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy,
	// AmazonEKSViewPolicy and AmazonEKSAdminViewPolicy), entries with a username
	// only EKS may give (eks:, system:, aws:, amazon:, iam:), and the entry EKS
	// made for the cluster's creator. Items are principal ARN patterns, as in
	// protect, or type:TYPE for every entry of a type, as in type:EC2_LINUX.
	// protect wins over deleteAlso.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	DeleteAlso []string `json:"deleteAlso,omitempty"`

	// DryRun reports what Delete would delete, and deletes nothing.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
}

// ClusterAccessConfigSpec configures one EKS cluster for the operator.
type ClusterAccessConfigSpec struct {
	// ClusterName is the EKS cluster's name. AccessEntries with this clusterName
	// (and region) use this configuration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Za-z][A-Za-z0-9_-]*$')",message="clusterName must start with a letter or digit and contain only letters, digits, '-' and '_'"
	ClusterName string `json:"clusterName"`

	// Region of the cluster; the operator's default region when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$')",message="region must be an AWS region name such as us-west-2, cn-north-1, us-gov-west-1 or eusc-de-east-1"
	Region string `json:"region,omitempty"`

	// RoleARN is an IAM role the operator assumes (through STS) to reach a cluster
	// in another account. Empty uses the operator's own credentials.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$')",message="roleARN must be an IAM role ARN such as arn:aws:iam::444455556666:role/eks-access-operator"
	RoleARN string `json:"roleARN,omitempty"`

	// ExternalID is passed to sts:AssumeRole when the role's trust policy asks for one.
	// +optional
	// +kubebuilder:validation:MaxLength=1224
	ExternalID string `json:"externalID,omitempty"`

	// AuthenticationMode, when set, is the mode the cluster must reach:
	// API_AND_CONFIG_MAP or API. EKS only moves forward (CONFIG_MAP, then
	// API_AND_CONFIG_MAP, then API), so this field may only move forward too,
	// and the operator never lowers a cluster's mode.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf || (oldSelf == 'API_AND_CONFIG_MAP' && self == 'API')",message="authenticationMode can only move forward, from API_AND_CONFIG_MAP to API: EKS cannot go back to a mode with fewer authentication sources"
	AuthenticationMode AuthenticationMode `json:"authenticationMode,omitempty"`

	// Guardrails say which namespaces may grant access to this cluster, and what
	// each may grant.
	// +optional
	Guardrails Guardrails `json:"guardrails,omitempty"`

	// UnmanagedEntries says what to do with entries no AccessEntry declares.
	// +optional
	UnmanagedEntries UnmanagedEntries `json:"unmanagedEntries,omitempty"`
}

// UnmanagedEntry is an entry of the cluster that no AccessEntry declares.
type UnmanagedEntry struct {
	// PrincipalARN of the entry.
	PrincipalARN string `json:"principalARN"`
	// Type of the entry.
	// +optional
	Type string `json:"type,omitempty"`
	// Action is Kept, Protected, Deleted or WouldDelete (dry run); Revoked or
	// WouldRevoke (enforcement Report) for an entry an AccessEntry of a namespace
	// outside the trusted ones left behind, judged against that namespace's rule.
	Action string `json:"action"`
	// Reason says why a Protected entry is kept: a protect pattern, the operator's
	// ownership, or what shows EKS made it; for Revoked, the namespace and rule
	// judged against and what was removed.
	// +optional
	Reason string `json:"reason,omitempty"`
	// AdminEquivalent says the entry holds an admin-equivalent access policy: one
	// that reaches Secrets or RBAC (docs/access-report.md lists them).
	// +optional
	AdminEquivalent bool `json:"adminEquivalent,omitempty"`
	// MadeByEKS says what shows that EKS made the entry itself (a node type, the
	// cluster creator's entry, a policy EKS associates for its components). For
	// an admin-equivalent entry a component's policy beside it does not count:
	// anyone who may associate policies can add one.
	// +optional
	MadeByEKS string `json:"madeByEKS,omitempty"`
}

// ClusterTarget is how the operator reaches a cluster.
type ClusterTarget struct {
	// Region of the cluster.
	Region string `json:"region"`
	// RoleARN assumed; empty for the operator's own credentials.
	// +optional
	RoleARN string `json:"roleARN,omitempty"`
	// ExternalID passed to sts:AssumeRole.
	// +optional
	ExternalID string `json:"externalID,omitempty"`
}

// ClusterUpdate is an EKS cluster update the operator started.
type ClusterUpdate struct {
	// ID of the update.
	ID string `json:"id"`
	// Status as EKS reports it: InProgress, Successful, Failed or Cancelled.
	Status string `json:"status"`
	// AuthenticationMode the update moves the cluster to.
	AuthenticationMode string `json:"authenticationMode"`
}

// ClusterAccessConfigStatus is what the operator last observed of the cluster.
type ClusterAccessConfigStatus struct {
	// ObservedGeneration is the generation last fully handled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready always; Reconciling and Stalled only while True.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Target is the role, external ID and region the config reached the cluster
	// with, as last reconciled.
	// +optional
	Target *ClusterTarget `json:"target,omitempty"`
	// RetiredTargets are targets the config named before (latest last): entries
	// made through them are still reached through them, to delete them when their
	// AccessEntries move or go.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	RetiredTargets []ClusterTarget `json:"retiredTargets,omitempty"`
	// ClusterStatus is the cluster's status in EKS (ACTIVE, UPDATING, ...).
	// +optional
	ClusterStatus string `json:"clusterStatus,omitempty"`
	// AccountID is the AWS account that holds the cluster, read from its ARN. Rules
	// without principals allow the roles and users of this account.
	// +optional
	AccountID string `json:"accountID,omitempty"`
	// ClusterCreatedAt is when EKS created the cluster; the admin entry EKS makes
	// for the cluster's creator dates from then, and is never adopted.
	// +optional
	ClusterCreatedAt *metav1.Time `json:"clusterCreatedAt,omitempty"`
	// AuthenticationMode is the cluster's current mode.
	// +optional
	AuthenticationMode string `json:"authenticationMode,omitempty"`
	// KubernetesVersion of the cluster.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// PlatformVersion of the cluster.
	// +optional
	PlatformVersion string `json:"platformVersion,omitempty"`
	// AccessEntriesSupported says whether the cluster's mode allows access entries.
	// +optional
	AccessEntriesSupported bool `json:"accessEntriesSupported,omitempty"`
	// Update is the authentication-mode update in progress or last made.
	// +optional
	Update *ClusterUpdate `json:"update,omitempty"`
	// UnmanagedEntries are the cluster's entries no AccessEntry declares, and what
	// was done with each.
	// +optional
	UnmanagedEntries []UnmanagedEntry `json:"unmanagedEntries,omitempty"`

	// SharedPrincipals says where spec.guardrails.rules let two namespaces name
	// the same principals (a whole account, or a pattern without {{namespace}}):
	// there the first to apply holds a principal and the other is in Conflict.
	// Give each namespace roles of its own ({{namespace}} in principals.arns) to
	// close them. At most 20 are listed.
	// +optional
	SharedPrincipals []string `json:"sharedPrincipals,omitempty"`
}

// ClusterAccessConfig configures how the operator treats one EKS cluster: its
// authentication mode, the role to reach it, what its AccessEntries may grant,
// and what happens to entries nobody declared.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cac,categories=eks
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.status.authenticationMode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAccessConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is how the cluster should be configured.
	// +required
	Spec ClusterAccessConfigSpec `json:"spec"`

	// Status is what the operator last observed.
	// +optional
	Status ClusterAccessConfigStatus `json:"status,omitempty"`
}

// ClusterAccessConfigList is a list of ClusterAccessConfig objects.
// +kubebuilder:object:root=true
type ClusterAccessConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the configurations.
	Items []ClusterAccessConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterAccessConfig{}, &ClusterAccessConfigList{})
}
