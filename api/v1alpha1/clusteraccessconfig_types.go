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
	// ReasonNotPermitted: the AccessEntry breaks a guardrail of its
	// ClusterAccessConfig (or none exists and the operator requires one).
	ReasonNotPermitted = "NotPermitted"
	// ReasonUpdatingAuthenticationMode: EKS is changing the cluster's mode.
	ReasonUpdatingAuthenticationMode = "UpdatingAuthenticationMode"
	// ReasonClusterUpdating: the cluster is UPDATING; AccessEntries wait for it.
	ReasonClusterUpdating = "ClusterUpdating"
	// ReasonUpdateFailed: EKS reported the authentication-mode update failed.
	ReasonUpdateFailed = "UpdateFailed"
)

// Guardrails limit what the AccessEntries of one cluster may grant. An empty field
// allows everything of its kind.
type Guardrails struct {
	// AllowedNamespaces lists the namespaces whose AccessEntries may target the
	// cluster. Empty allows every namespace (subject to NamespaceSelector).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`

	// NamespaceSelector selects, by label, the namespaces whose AccessEntries may
	// target the cluster. Unset selects every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// AllowedPolicyARNs lists the access policies AccessEntries may associate.
	// Empty allows every policy.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	AllowedPolicyARNs []string `json:"allowedPolicyARNs,omitempty"`

	// AllowClusterScope lets AccessEntries associate policies at cluster scope.
	// When false only namespace scopes are allowed.
	// +optional
	// +kubebuilder:default=true
	AllowClusterScope *bool `json:"allowClusterScope,omitempty"`

	// AllowedTypes lists the entry types AccessEntries may use. Empty allows every type.
	// +optional
	// +listType=set
	AllowedTypes []AccessEntryType `json:"allowedTypes,omitempty"`
}

// UnmanagedEntries says what to do with entries of the cluster no AccessEntry
// declares, such as the admin entry EKS makes for the cluster's creator.
type UnmanagedEntries struct {
	// Policy is Keep (report them) or Delete (delete those no protect pattern covers).
	// +optional
	// +kubebuilder:default=Keep
	Policy UnmanagedEntriesPolicy `json:"policy,omitempty"`

	// Protect lists principal ARN patterns never deleted; '*' matches any run of
	// characters, as in arn:aws:iam::111122223333:role/break-glass-*. Entries of
	// node types are protected unless a pattern here names them with
	// "type:TYPE", as in type:EC2_LINUX.
	// +optional
	// +kubebuilder:validation:MaxItems=100
	Protect []string `json:"protect,omitempty"`

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
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$')",message="region must be an AWS region name such as us-west-2 or eu-central-1"
	Region string `json:"region,omitempty"`

	// RoleARN is an IAM role the operator assumes (through STS) to reach a cluster
	// in another account. Empty uses the operator's own credentials.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$')",message="roleARN must be an IAM role ARN such as arn:aws:iam::444455556666:role/eks-access-operator"
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

	// Guardrails limit what AccessEntries for this cluster may grant.
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
	// Action is Kept, Protected, Deleted or WouldDelete (dry run).
	Action string `json:"action"`
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
	// ClusterStatus is the cluster's status in EKS (ACTIVE, UPDATING, ...).
	// +optional
	ClusterStatus string `json:"clusterStatus,omitempty"`
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
