package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AccessRequestSpec is a person's request for time-bound access to a cluster:
// what, for how long, and why. Who asks is the API server's to say: admission
// refuses a request whose spec.requester is not the user making it. A request
// is never changed once made; withdrawn, it is deleted.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an AccessRequest cannot be changed once made: withdraw it (delete it) and make a new one"
type AccessRequestSpec struct {
	// Requester is the Kubernetes username of the person asking, as the API
	// server authenticates them (`kubectl auth whoami`). Admission refuses a
	// request whose requester is anyone else; `kubectl eksaccess request` fills
	// it in.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Requester string `json:"requester"`

	// RequesterGroups are groups of the requester that a rule's breakGlass may
	// name. Admission refuses a group the API server did not authenticate the
	// user in.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	RequesterGroups []string `json:"requesterGroups,omitempty"`

	// Grant is the access entry asked for, as an AccessEntry's spec: cluster,
	// principal, username, groups and policies. Approved, it becomes an
	// AccessEntry of this namespace that expires spec.duration after the
	// approval, judged by the cluster's guardrails like any other.
	// +kubebuilder:validation:XValidation:rule="!has(self.expiresAt)",message="spec.grant.expiresAt is set from spec.duration when the request is approved: remove it"
	// +kubebuilder:validation:XValidation:rule="!has(self.deletionPolicy) || self.deletionPolicy == 'Delete'",message="a granted entry is always deleted when it expires: remove spec.grant.deletionPolicy (Retain cannot be requested)"
	// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'STANDARD'",message="requests are for people: spec.grant.type must be STANDARD (node roles are declared with an AccessEntry)"
	Grant AccessEntrySpec `json:"grant"`

	// Duration is how long the access lasts once approved, such as 4h: at most
	// 720h here, and at most what the cluster's rules allow.
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('720h')",message="spec.duration must be between 1m and 720h (30 days), such as 4h; the cluster's rules may allow less"
	Duration metav1.Duration `json:"duration"`

	// Reason says why the access is needed (an incident, a ticket): approvers
	// read it, and the audit log keeps it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
}

// RequestLabel marks an AccessEntry granted by an AccessRequest: its value is
// the request's name.
const RequestLabel = "eksaccess.io/request"

// RequestPhase is where a request stands.
// +kubebuilder:validation:Enum=Pending;Granted;Denied;Expired;Refused;Withdrawn
type RequestPhase string

// The phases of an AccessRequest.
const (
	// RequestPending waits for approvals.
	RequestPending RequestPhase = "Pending"
	// RequestGranted is approved: its AccessEntry holds the access until status.expiresAt.
	RequestGranted RequestPhase = "Granted"
	// RequestDenied was denied by an approver, before or during the grant: a
	// grant is revoked at once.
	RequestDenied RequestPhase = "Denied"
	// RequestExpired ended: its grant was revoked, or it was never approved in time.
	RequestExpired RequestPhase = "Expired"
	// RequestRefused asks for what no rule allows.
	RequestRefused RequestPhase = "Refused"
	// RequestWithdrawn is being deleted: a grant is revoked at once, whatever
	// keeps the request from going (a finalizer, an orphaning delete).
	RequestWithdrawn RequestPhase = "Withdrawn"
)

// AccessRequestStatus is what became of a request.
type AccessRequestStatus struct {
	// Phase is where the request stands.
	// +optional
	Phase RequestPhase `json:"phase,omitempty"`

	// Approvals are the approvals counted for the request, by whom and when.
	// +optional
	// +listType=atomic
	Approvals []Decision `json:"approvals,omitempty"`

	// Entry is the AccessEntry holding the grant, in this namespace.
	// +optional
	Entry string `json:"entry,omitempty"`

	// GrantedAt is when the grant started: when the operator saw the request
	// approved, never before.
	// +optional
	GrantedAt *metav1.Time `json:"grantedAt,omitempty"`

	// ExpiresAt is when the grant ends: grantedAt plus spec.duration. The
	// AccessEntry's spec.expiresAt is this time.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// Conditions: Ready while the grant holds, with the reason otherwise.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Decision is one approval or denial, as the API server authenticated it.
type Decision struct {
	// Approval is the AccessApproval's name.
	Approval string `json:"approval"`
	// Approver is its user.
	Approver string `json:"approver"`
	// At is when it was made (its creation time).
	At metav1.Time `json:"at"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=areq,categories=eks
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.grant.clusterName`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.spec.duration`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AccessRequest asks for time-bound access to an EKS cluster, to be approved
// by people the cluster's rules name.
type AccessRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AccessRequestSpec   `json:"spec"`
	Status AccessRequestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// AccessRequestList is a list of AccessRequests.
type AccessRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessRequest `json:"items"`
}

// DecisionKind is what an approver decided.
// +kubebuilder:validation:Enum=Approve;Deny
type DecisionKind string

// The decisions.
const (
	Approve DecisionKind = "Approve"
	Deny    DecisionKind = "Deny"
)

// AccessApprovalSpec is one person's decision on an AccessRequest of the same
// namespace. Admission refuses an approval whose approver is not the user
// making it, or that claims a group the user is not in. An approval is never
// changed once made.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an AccessApproval cannot be changed once made: delete it and make another"
type AccessApprovalSpec struct {
	// Request is the AccessRequest's name, in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`

	// RequestUID is the AccessRequest's metadata.uid: an approval counts only
	// for the request it was made for, not for a later one made under the same
	// name. `kubectl eksaccess approve` fills it in.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	RequestUID string `json:"requestUID"`

	// Decision is Approve or Deny.
	Decision DecisionKind `json:"decision"`

	// Approver is the Kubernetes username of the person deciding, as the API
	// server authenticates them. Admission refuses anyone else;
	// `kubectl eksaccess approve` fills it in. Never the requester: the
	// operator does not count an approval by the request's own requester.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Approver string `json:"approver"`

	// ApproverGroups are groups of the approver that make them an approver
	// under the cluster's rules. Admission refuses a group the API server did
	// not authenticate the user in.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	ApproverGroups []string `json:"approverGroups,omitempty"`

	// Reason is the approver's note, kept in the audit log.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=aapr,categories=eks
// +kubebuilder:printcolumn:name="Request",type=string,JSONPath=`.spec.request`
// +kubebuilder:printcolumn:name="Decision",type=string,JSONPath=`.spec.decision`
// +kubebuilder:printcolumn:name="Approver",type=string,JSONPath=`.spec.approver`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// AccessApproval approves or denies an AccessRequest.
type AccessApproval struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AccessApprovalSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// AccessApprovalList is a list of AccessApprovals.
type AccessApprovalList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessApproval `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessRequest{}, &AccessRequestList{}, &AccessApproval{}, &AccessApprovalList{})
}
