package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eksaccess/eks-access-operator/internal/ownership"
)

// Names the operator owns: the finalizer, the adoption annotation and the tag prefix
// that marks the EKS entries it manages.
const (
	// Finalizer holds an AccessEntry until its EKS entry is deleted (or retained).
	Finalizer = "eksaccess.io/finalizer"

	// AdoptAnnotation, set to "true", lets an AccessEntry take over an existing EKS
	// entry that no operator owns.
	AdoptAnnotation = "eksaccess.io/adopt"

	// VerifyAnnotation asks for the entry to be read from EKS in full now, and
	// put back if it drifted: set it to a new value (a timestamp, say) each time;
	// status.lastHandledVerify records the last value handled.
	VerifyAnnotation = "eksaccess.io/verify"

	// TagPrefix starts every ownership tag the operator writes on EKS entries. Users
	// may not declare tags with this prefix.
	TagPrefix = ownership.Prefix

	// MaxEntryTags is how many tags EKS allows on one access entry.
	MaxEntryTags = 50

	// ReservedTagCount is how many of the MaxEntryTags the operator keeps for its
	// ownership tags.
	ReservedTagCount = ownership.Count

	// MaxSpecTags is how many tags spec.tags may hold: the CRD's MaxProperties
	// (a test checks that the generated CRD says so).
	MaxSpecTags = MaxEntryTags - ReservedTagCount
)

// Condition types, as kstatus reads them: Ready is always present, Reconciling and
// Stalled only while they are True.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Condition reasons. Each one is documented with its fix in docs/conditions.md.
const (
	// ReasonSynced: EKS was read back and matches the spec (Ready=True).
	ReasonSynced = "Synced"
	// ReasonProgressing: the operator is writing to EKS.
	ReasonProgressing = "Progressing"
	// ReasonWaitingForEKS: EKS has not yet shown a change the operator made
	// (eventual consistency); it checks again with backoff.
	ReasonWaitingForEKS = "WaitingForEKS"
	// ReasonPrincipalNotFound: EKS does not know the IAM principal yet (a new role
	// takes a while to propagate) or it does not exist.
	ReasonPrincipalNotFound = "PrincipalNotFound"
	// ReasonPrincipalDeleted: IAM no longer has the principal the EKS entry was
	// made for, so the entry grants nothing; it is kept, and recreated for the
	// principal created next under the same ARN.
	ReasonPrincipalDeleted = "PrincipalDeleted"
	// ReasonAlreadyExists: an entry for the principal exists that no operator owns;
	// annotate the object with eksaccess.io/adopt: "true" to take it over.
	ReasonAlreadyExists = "AlreadyExists"
	// ReasonConflict: another AccessEntry owns the EKS entry for the principal.
	ReasonConflict = "Conflict"
	// ReasonInvalidSpec: EKS refused the spec; the message is EKS's.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonRefusedByEKS: EKS refused a change for a cause outside the spec (tags
	// set out of band that leave no room, the cluster's state); checked again every
	// --recheck-interval while the rest of the entry is kept in line.
	ReasonRefusedByEKS = "RefusedByEKS"
	// ReasonAuthenticationModeNotSupported: the cluster authenticates through the
	// aws-auth ConfigMap only; its authentication mode has to include the EKS API.
	ReasonAuthenticationModeNotSupported = "AuthenticationModeNotSupported"
	// ReasonClusterNotFound: no such cluster in the operator's account and region.
	ReasonClusterNotFound = "ClusterNotFound"
	// ReasonLimitExceeded: the cluster has reached its quota of access entries.
	ReasonLimitExceeded = "LimitExceeded"
	// ReasonAccessDenied: the operator's IAM identity lacks a permission.
	ReasonAccessDenied = "AccessDenied"
	// ReasonThrottled: EKS throttled the operator; it backs off and retries.
	ReasonThrottled = "Throttled"
	// ReasonRateLimited: the object waits for its account's budget of EKS calls
	// (the operator's own limit, --eks-qps, shared by the account's objects); the
	// message says which account and region and about how long.
	ReasonRateLimited = "RateLimited"
	// ReasonEKSError: EKS failed in a way worth retrying.
	ReasonEKSError = "EKSError"
	// ReasonNoRegion: neither spec.region nor the operator's --region is set.
	ReasonNoRegion = "NoRegion"
	// ReasonExpired: spec.expiresAt has passed and the object holds nothing in
	// EKS (Ready=True: done, not failed).
	ReasonExpired = "Expired"
	// ReasonDeleting: the EKS entry is being deleted.
	ReasonDeleting = "Deleting"
	// ReasonPermissionSetNotAssigned: IAM holds no role for spec.identityCenter's
	// permission set in the account (the set is not assigned to it, or not yet
	// provisioned); checked again every --principal-check-interval.
	ReasonPermissionSetNotAssigned = "PermissionSetNotAssigned"
	// ReasonPermissionSetAmbiguous: two roles match the permission set.
	ReasonPermissionSetAmbiguous = "PermissionSetAmbiguous"
	// ReasonPermissionSetUnresolved: the operator cannot list the account's roles.
	ReasonPermissionSetUnresolved = "PermissionSetUnresolved"
)

// AccessEntryType is the kind of IAM principal an access entry is for.
// +kubebuilder:validation:Enum=STANDARD;EC2;EC2_LINUX;EC2_WINDOWS;FARGATE_LINUX;HYBRID_LINUX;HYPERPOD_LINUX
type AccessEntryType string

// The access entry types EKS knows. Every type but STANDARD is for the IAM role of
// nodes (or pods on Fargate) and takes no username, groups or access policies.
const (
	TypeStandard      AccessEntryType = "STANDARD"
	TypeEC2           AccessEntryType = "EC2"
	TypeEC2Linux      AccessEntryType = "EC2_LINUX"
	TypeEC2Windows    AccessEntryType = "EC2_WINDOWS"
	TypeFargateLinux  AccessEntryType = "FARGATE_LINUX"
	TypeHybridLinux   AccessEntryType = "HYBRID_LINUX"
	TypeHyperpodLinux AccessEntryType = "HYPERPOD_LINUX"
)

// DeletionPolicy says what happens to the EKS entry when its AccessEntry is deleted
// or moved to another identity.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the EKS entry with the object.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain leaves the EKS entry in place.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// AccessScopeType is how far an access policy reaches.
// +kubebuilder:validation:Enum=cluster;namespace
type AccessScopeType string

const (
	// AccessScopeCluster applies the policy to every namespace and to cluster-wide objects.
	AccessScopeCluster AccessScopeType = "cluster"
	// AccessScopeNamespace applies the policy to the listed namespaces only.
	AccessScopeNamespace AccessScopeType = "namespace"
)

// KubernetesGroup is a Kubernetes RBAC group name given to the principal.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="!self.startsWith('system:')",message="kubernetesGroups must not start with 'system:': EKS refuses system groups; bind your own group name in a RoleBinding or ClusterRoleBinding instead"
type KubernetesGroup string

// ScopeNamespace is a Kubernetes namespace name, or a prefix ending in one '*'
// wildcard such as "dev-*".
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?|[a-z0-9][-a-z0-9]*[*])$')",message="namespaces must be DNS labels (lowercase letters, digits and '-', starting and ending with a letter or digit), optionally ending in one '*' wildcard such as 'dev-*'; for every namespace use accessScope.type cluster"
type ScopeNamespace string

// TagValue is the value of an EKS tag: up to 256 characters of letters, digits,
// spaces and _ . : / = + - @, not starting with aws: (reserved by AWS).
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule=`self.matches(r'^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$')`,message="tag values may hold only letters, digits, spaces and the characters _ . : / = + - @"
// +kubebuilder:validation:XValidation:rule="!self.lowerAscii().startsWith('aws:')",message="tag values must not start with 'aws:' (in any case); AWS reserves that prefix for keys and values"
type TagValue string

// AccessScope says where an access policy applies.
// +kubebuilder:validation:XValidation:rule="self.type != 'namespace' || (has(self.namespaces) && size(self.namespaces) > 0)",message="accessScope of type namespace needs at least one entry in accessScope.namespaces"
// +kubebuilder:validation:XValidation:rule="self.type != 'cluster' || !has(self.namespaces) || size(self.namespaces) == 0",message="accessScope of type cluster applies to all namespaces: remove accessScope.namespaces, or use type namespace"
type AccessScope struct {
	// Type is "cluster" for the whole cluster, or "namespace" for the namespaces listed.
	// +required
	Type AccessScopeType `json:"type"`

	// Namespaces the policy applies to, for type namespace. A trailing '*' matches
	// every namespace with that prefix.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	Namespaces []ScopeNamespace `json:"namespaces,omitempty"`
}

// AccessPolicy is an EKS access policy associated with the entry.
type AccessPolicy struct {
	// PolicyARN is the ARN of an EKS access policy, such as
	// arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy.
	// `aws eks list-access-policies` lists them.
	// +required
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):eks::aws:cluster-access-policy/[A-Za-z0-9][A-Za-z0-9_+=,.@-]*$')",message="policyARN must be an EKS access policy ARN such as arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy ('aws eks list-access-policies' lists them)"
	PolicyARN string `json:"policyARN"`

	// AccessScope says where the policy applies.
	// +required
	AccessScope AccessScope `json:"accessScope"`
}

// IdentityCenterPrincipal names the IAM role IAM Identity Center provisions for
// a permission set in an account.
type IdentityCenterPrincipal struct {
	// PermissionSet is the name of the permission set, such as Developers (1 to
	// 32 letters, digits and + = , . @ _ -, as Identity Center allows). The
	// name is matched exactly, in its letter case.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9_+=,.@-]+$')",message="identityCenter.permissionSet must be a permission set name: 1 to 32 letters, digits and + = , . @ _ -"
	PermissionSet string `json:"permissionSet"`

	// Account whose role for the set gets access (12 digits). Empty: the
	// cluster's account. The operator reads that account's roles with the
	// credentials it uses for the cluster, or through a ClusterAccessConfig of a
	// cluster in that account.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{12}$')",message="identityCenter.account must be a 12-digit AWS account ID"
	Account string `json:"account,omitempty"`
}

// ResolvedPermissionSet is the role a permission set was found to be.
type ResolvedPermissionSet struct {
	// PermissionSet is the name of the set resolved.
	PermissionSet string `json:"permissionSet"`
	// Account is the account whose roles were listed.
	Account string `json:"account"`
	// RoleARN is the role IAM held for the set then.
	RoleARN string `json:"roleARN"`
	// RoleID is that role's unique ID (AROA...).
	// +optional
	RoleID string `json:"roleID,omitempty"`
	// ResolvedAt is when IAM was last asked.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`
}

// AccessEntrySpec declares one EKS access entry: which IAM principal may reach which
// cluster, and with what Kubernetes identity and permissions.
// +kubebuilder:validation:XValidation:rule="has(self.principalARN) != has(self.identityCenter)",message="name the principal once: set spec.principalARN (an IAM role or user ARN) or spec.identityCenter.permissionSet (an IAM Identity Center permission set), not both and not neither"
// +kubebuilder:validation:XValidation:rule="!has(self.identityCenter) || !has(self.type) || self.type == 'STANDARD'",messageExpression="'spec.identityCenter names people (the role of a permission set), and type ' + self.type + ' is for node roles: use type STANDARD, or name the node role in spec.principalARN'"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'STANDARD' || !has(self.principalARN) || self.principalARN.matches('^arn:[^:]+:iam::[0-9]{12}:role/')",messageExpression="'type ' + self.type + ' is for node roles: principalARN must be an IAM role (arn:aws:iam::ACCOUNT:role/NAME), not a user'"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'STANDARD' || !has(self.username)",messageExpression="'username is only allowed for type STANDARD; EKS names ' + self.type + ' principals itself: remove spec.username'"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'STANDARD' || !has(self.kubernetesGroups) || size(self.kubernetesGroups) == 0",messageExpression="'kubernetesGroups are only allowed for type STANDARD; EKS gives ' + self.type + ' principals their node groups itself: remove spec.kubernetesGroups'"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || !(self.type in ['EC2_LINUX', 'EC2_WINDOWS']) || !has(self.accessPolicies) || size(self.accessPolicies) == 0",messageExpression="'accessPolicies cannot be associated with ' + self.type + ' entries: EKS gives self-managed nodes their permissions itself. Remove spec.accessPolicies (an EKS Auto Mode node role is type EC2, which takes AmazonEKSAutoNodePolicy)'"
type AccessEntrySpec struct {
	// ClusterName is the name of the EKS cluster the entry grants access to.
	// Changing it moves the entry: the old one is deleted (unless deletionPolicy is
	// Retain) and a new one is created.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9A-Za-z][A-Za-z0-9_-]*$')",message="clusterName must start with a letter or digit and contain only letters, digits, '-' and '_'"
	ClusterName string `json:"clusterName"`

	// Region is the AWS region of the cluster, such as us-west-2. When empty the
	// operator's default region is used. Changing it moves the entry.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$')",message="region must be an AWS region name such as us-west-2, cn-north-1, us-gov-west-1 or eusc-de-east-1"
	Region string `json:"region,omitempty"`

	// PrincipalARN is the IAM role or user that gets access, such as
	// arn:aws:iam::111122223333:role/my-role. Role paths are allowed
	// (role/development/apps/my-role). Changing it moves the entry. Set it or
	// identityCenter, not both.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.matches('^arn:[^:]+:sts::')",message="principalARN must be an IAM role or user, not an STS session: use arn:aws:iam::ACCOUNT:role/NAME instead of arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^arn:[^:]+:iam::[0-9]{12}:role/aws-service-role/')",message="principalARN is a service-linked role (role/aws-service-role/...); EKS does not allow access entries for service-linked roles"
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::[0-9]{12}:(role|user)/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$')",message="principalARN must be an IAM role or user ARN such as arn:aws:iam::111122223333:role/my-role (a path such as role/team/my-role is allowed)"
	PrincipalARN string `json:"principalARN,omitempty"`

	// IdentityCenter names the principal by its IAM Identity Center permission
	// set instead of by ARN: the operator finds the role Identity Center made for
	// the set in the account (AWSReservedSSO_<set>_<suffix>), whose suffix differs
	// per account and changes when the set is provisioned again, and moves the
	// entry to the new role when it does. Set it or principalARN, not both.
	// +optional
	IdentityCenter *IdentityCenterPrincipal `json:"identityCenter,omitempty"`

	// Type is the kind of principal: STANDARD for people and workloads, or one of
	// the node types (EC2, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX,
	// HYPERPOD_LINUX) for node roles in the cluster's account. EKS cannot change the
	// type of an entry: changing it recreates the entry.
	// +optional
	// +kubebuilder:default=STANDARD
	Type AccessEntryType `json:"type,omitempty"`

	// Username is the Kubernetes username of the principal (STANDARD only). When
	// empty EKS derives one from the ARN. If it contains {{SessionName}} (the
	// session name with @ written as -) or {{SessionNameRaw}} (the session name
	// as it is, such as an email address), a colon must come before it, as in
	// "dev:{{SessionName}}".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!['system:', 'eks:', 'aws:', 'amazon:', 'iam:'].exists(p, self.startsWith(p))",message="username must not start with system:, eks:, aws:, amazon: or iam:; those prefixes are reserved by Kubernetes and AWS"
	// +kubebuilder:validation:XValidation:rule="!self.contains('{{SessionName}}') || self.substring(0, self.indexOf('{{SessionName}}')).contains(':')",message="username with {{SessionName}} needs a colon before it, as in 'dev:{{SessionName}}'"
	// +kubebuilder:validation:XValidation:rule="!self.contains('{{SessionNameRaw}}') || self.substring(0, self.indexOf('{{SessionNameRaw}}')).contains(':')",message="username with {{SessionNameRaw}} needs a colon before it, as in 'dev:{{SessionNameRaw}}'"
	Username string `json:"username,omitempty"`

	// KubernetesGroups are the Kubernetes RBAC groups of the principal (STANDARD
	// only); bind them with RoleBindings or ClusterRoleBindings.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	KubernetesGroups []KubernetesGroup `json:"kubernetesGroups,omitempty"`

	// AccessPolicies are the EKS access policies associated with the entry, each
	// once, with its scope. STANDARD entries take any; an EC2 (EKS Auto Mode) node
	// role takes AmazonEKSAutoNodePolicy at cluster scope; EC2_LINUX and
	// EC2_WINDOWS take none.
	// +optional
	// +listType=map
	// +listMapKey=policyARN
	// +kubebuilder:validation:MaxItems=50
	AccessPolicies []AccessPolicy `json:"accessPolicies,omitempty"`

	// Tags to set on the EKS entry. Keys (1 to 128 characters) and values (up to
	// 256) hold letters, digits, spaces and _ . : / = + - @; keys starting with
	// eksaccess.io/, and keys or values starting with aws:, are reserved. EKS
	// allows 50 tags; the operator keeps 3 for ownership.
	// +optional
	// +kubebuilder:validation:MaxProperties=47
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) >= 1 && size(k) <= 128)",message="tag keys must be 1 to 128 characters long"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.lowerAscii().startsWith('aws:'))",message="tag keys must not start with 'aws:' (in any case); that prefix is reserved by AWS"
	// +kubebuilder:validation:XValidation:rule=`self.all(k, k.matches(r'^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$'))`,message="tag keys may hold only letters, digits, spaces and the characters _ . : / = + - @"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.lowerAscii().startsWith('eksaccess.io/'))",message="tag keys must not start with 'eksaccess.io/'; the operator writes its ownership tags there"
	Tags map[string]TagValue `json:"tags,omitempty"`

	// DeletionPolicy says what happens to the EKS entry when this object is deleted
	// or its identity changes: Delete (the default) removes it, Retain leaves it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// ExpiresAt ends the grant, as an RFC 3339 time such as 2026-12-31T18:00:00Z.
	// Until then the entry is kept as the spec says. From then on the operator
	// deletes the EKS entry the object holds, whatever deletionPolicy says, and the
	// object stays as a record: Ready with reason Expired. A later time grants
	// again until then; removing the field makes the grant standing.
	// +optional
	// +kubebuilder:validation:Format=date-time
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
}

// Expired reports whether the object's grant has ended at now.
func (s *AccessEntrySpec) Expired(now time.Time) bool {
	return s.ExpiresAt != nil && !now.Before(s.ExpiresAt.Time)
}

// Principal is the ARN of the principal the object grants access to:
// spec.principalARN, or the role spec.identityCenter was last resolved to ("" until
// it is resolved, or when status resolved another set or account).
func (ae *AccessEntry) Principal() string {
	ic := ae.Spec.IdentityCenter
	if ic == nil {
		return ae.Spec.PrincipalARN
	}
	if r := ae.Status.IdentityCenter; r != nil && r.PermissionSet == ic.PermissionSet && (ic.Account == "" || ic.Account == r.Account) {
		return r.RoleARN
	}
	return ""
}

// TakesPolicies reports whether entries of the type may carry access policies:
// EKS documents that EC2_LINUX and EC2_WINDOWS take none, and that EC2 (EKS Auto
// Mode) node roles take AmazonEKSAutoNodePolicy. The other node types are not
// documented either way, so the operator leaves the answer to EKS.
func (t AccessEntryType) TakesPolicies() bool {
	return t != TypeEC2Linux && t != TypeEC2Windows
}

// ListsPolicies reports whether the operator reads the policies of an entry of
// the type even when the spec declares none: STANDARD and EC2 entries carry them.
func (t AccessEntryType) ListsPolicies() bool {
	return t == "" || t == TypeStandard || t == TypeEC2
}

// EntryType is the type of the entry the spec declares: STANDARD when spec.type is
// empty (the API server defaults it, but objects built in Go may not be).
func (s *AccessEntrySpec) EntryType() AccessEntryType {
	if s.Type == "" {
		return TypeStandard
	}
	return s.Type
}

// EntryIdentity is what names an EKS access entry: where it lives (partition,
// account, region, cluster) and whose it is (principal, type). EKS cannot change
// any of it, so when the spec's identity differs from the recorded one the entry
// moves: the old one is deleted where it is, and a new one created.
type EntryIdentity struct {
	// ClusterName of the cluster the entry was created in.
	ClusterName string `json:"clusterName"`
	// Region of that cluster, as resolved when the entry was created.
	Region string `json:"region"`
	// Account that holds the cluster: the operator's own, or that of the role it
	// assumes for the cluster's ClusterAccessConfig.
	// +optional
	Account string `json:"account,omitempty"`
	// Partition of that account (aws, aws-cn, aws-us-gov).
	// +optional
	Partition string `json:"partition,omitempty"`
	// PrincipalARN of the entry.
	PrincipalARN string `json:"principalARN"`
	// Type of the entry.
	Type AccessEntryType `json:"type"`
}

// RetainedEntry is an EKS entry an object kept when it moved away from it.
type RetainedEntry struct {
	// ARN of the entry.
	ARN string `json:"arn"`
	// ManagedTags are the spec tag keys the object had written on it, to remove
	// those its spec no longer has should it take the entry back.
	// +optional
	ManagedTags []string `json:"managedTags,omitempty"`
}

// AdoptedEntry is what an EKS entry held when the object adopted it
// (eksaccess.io/adopt), so that at the object's expiry the operator takes away
// only what the object added, and leaves the entry as it found it, no longer
// the object's.
type AdoptedEntry struct {
	// ARN of the adopted entry: the record holds for that entry only.
	ARN string `json:"arn"`
	// Username the entry had.
	// +optional
	Username string `json:"username,omitempty"`
	// KubernetesGroups the entry had.
	// +optional
	KubernetesGroups []string `json:"kubernetesGroups,omitempty"`
	// AccessPolicies the entry had, with their scopes; unset when EKS's type of
	// the entry lists none.
	// +optional
	AccessPolicies []AssociatedAccessPolicy `json:"accessPolicies,omitempty"`
	// TagKeys are the keys of the tags the entry had.
	// +optional
	TagKeys []string `json:"tagKeys,omitempty"`
}

// ObservedAccessScope is an access scope as EKS reports it. It carries no validation:
// status shows what EKS holds, whatever that is.
type ObservedAccessScope struct {
	// Type is "cluster" or "namespace".
	Type AccessScopeType `json:"type"`
	// Namespaces of a namespace scope.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// AssociatedAccessPolicy is an access policy as EKS reports it associated.
type AssociatedAccessPolicy struct {
	// PolicyARN of the associated policy.
	PolicyARN string `json:"policyARN"`
	// AccessScope as EKS holds it.
	AccessScope ObservedAccessScope `json:"accessScope"`
	// AssociatedAt is when EKS associated the policy.
	// +optional
	AssociatedAt *metav1.Time `json:"associatedAt,omitempty"`
	// ModifiedAt is when EKS last changed the association.
	// +optional
	ModifiedAt *metav1.Time `json:"modifiedAt,omitempty"`
}

// AccessEntryStatus is what the operator last observed in EKS.
type AccessEntryStatus struct {
	// ObservedGeneration is the generation of the spec that was last fully handled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is always present; Reconciling and Stalled only while True.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// AccessEntryARN is the ARN of the EKS entry. EKS gives each create a new one:
	// an entry is this object's only when its ARN is the one recorded here (or it
	// was created after the identity below was recorded), whatever its tags say.
	// +optional
	AccessEntryARN string `json:"accessEntryARN,omitempty"`

	// Identity is what the EKS entry was created with, kept so that an identity
	// change can find and remove the old entry. It is recorded just before the
	// create, so that an entry whose create was cut short is found too.
	// +optional
	Identity *EntryIdentity `json:"identity,omitempty"`

	// RoleARN is the IAM role the operator assumed to reach the entry, from the
	// cluster's ClusterAccessConfig; empty when it used its own credentials. The
	// entry is deleted through this role when the object moves or goes away, never
	// looked for anywhere else.
	// +optional
	RoleARN string `json:"roleARN,omitempty"`

	// IdentityCenter is the role spec.identityCenter was last resolved to.
	// +optional
	IdentityCenter *ResolvedPermissionSet `json:"identityCenter,omitempty"`

	// PrincipalID is the unique ID IAM gives the principal (AROA... for a role,
	// AIDA... for a user) that the EKS entry was made for. EKS binds an entry to
	// this ID, not to the ARN: when the role or user is deleted and created again
	// under the same ARN, the ID changes, the old entry stops working, and the
	// operator recreates it. Empty when IAM could not be asked (a principal in
	// another account than the operator's credentials, no iam:GetRole or
	// iam:GetUser permission, or --principal-check-interval=0).
	// +optional
	PrincipalID string `json:"principalID,omitempty"`

	// LastVerifiedAt is when every field of the entry (username, groups, type,
	// tags, policies) was last read from EKS, or written and shown by EKS's answer,
	// and found as the spec says. Entries are verified again in turn, within
	// --verification-period, under the account's budget of background calls; a
	// restart does not read them all again at once.
	// +optional
	LastVerifiedAt *metav1.Time `json:"lastVerifiedAt,omitempty"`

	// LastHandledVerify is the last value of the eksaccess.io/verify annotation
	// that a verification answered.
	// +optional
	LastHandledVerify string `json:"lastHandledVerify,omitempty"`

	// IdentityRecordedAt is when Identity was recorded. EKS may show a new entry
	// only seconds later, so until --consistency-window has passed an entry that
	// reads as absent is not taken as gone.
	// +optional
	IdentityRecordedAt *metav1.Time `json:"identityRecordedAt,omitempty"`

	// CreateSentAt is when the operator last sent a create of the entry of
	// Identity whose answer status has not recorded. A create sent again long
	// after the identity was recorded (throttled, or refused for a while) may be
	// shown by EKS only seconds later, so until --consistency-window has passed
	// since it too, an entry that reads as absent is not taken as gone.
	// +optional
	CreateSentAt *metav1.Time `json:"createSentAt,omitempty"`

	// Username as EKS reports it, including the one EKS derived.
	// +optional
	Username string `json:"username,omitempty"`

	// KubernetesGroups as EKS reports them, including the ones EKS adds for nodes.
	// +optional
	KubernetesGroups []string `json:"kubernetesGroups,omitempty"`

	// AccessPolicies as EKS reports them associated.
	// +optional
	AccessPolicies []AssociatedAccessPolicy `json:"accessPolicies,omitempty"`

	// CreatedAt is when EKS created the entry.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// ModifiedAt is when EKS last changed the entry.
	// +optional
	ModifiedAt *metav1.Time `json:"modifiedAt,omitempty"`

	// ManagedTags are the keys of spec.tags last written to EKS, so that a tag
	// removed from the spec is removed from EKS while tags set by others stay.
	// +optional
	// +listType=set
	ManagedTags []string `json:"managedTags,omitempty"`

	// RetainedEntries are the EKS entries this object left in place, under
	// deletionPolicy Retain, when its account, cluster, region or principal
	// changed. Should it move back to one of them, that entry is its own again.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	RetainedEntries []RetainedEntry `json:"retainedEntries,omitempty"`

	// Adopted is what the EKS entry held when the object adopted it.
	// +optional
	Adopted *AdoptedEntry `json:"adopted,omitempty"`

	// Revoked lists what the operator removed from the EKS entry because the
	// guardrails of its ClusterAccessConfig stopped allowing it (with enforcement
	// Report: what it would remove). Empty once the object is allowed again.
	// +optional
	Revoked []string `json:"revoked,omitempty"`
}

// AccessEntry is an Amazon EKS access entry: an IAM principal's access to an EKS
// cluster, with its Kubernetes username, groups and access policies.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ae,categories=eks
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Principal",type=string,JSONPath=`.spec.principalARN`
// +kubebuilder:printcolumn:name="Permission Set",type=string,JSONPath=`.spec.identityCenter.permissionSet`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.status.accessEntryARN`
// +kubebuilder:selectablefield:JSONPath=`.spec.clusterName`
// +kubebuilder:selectablefield:JSONPath=`.status.identity.clusterName`
type AccessEntry struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the access entry as it should be in EKS.
	// +required
	Spec AccessEntrySpec `json:"spec"`

	// Status is the access entry as the operator last saw it in EKS.
	// +optional
	Status AccessEntryStatus `json:"status,omitempty"`
}

// AccessEntryList is a list of AccessEntry objects.
// +kubebuilder:object:root=true
type AccessEntryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the access entries.
	Items []AccessEntry `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessEntry{}, &AccessEntryList{})
}
