package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Event is one write to EKS's access-entry API as CloudTrail recorded it and
// EventBridge delivered it ("AWS API Call via CloudTrail", source aws.eks).
// EventBridge delivers such events at least once, late, and in no set order:
// an event only says where to look, never what is there now.
type Event struct {
	// ID is CloudTrail's eventID, the same in every copy of one event.
	ID string
	// Name is the operation: CreateAccessEntry, AssociateAccessPolicy...
	Name            string
	Account, Region string
	// Cluster is the cluster written; Principal the entry's principal, when the
	// operation names it (tag writes name the entry's ARN, in Resource, instead).
	Cluster, Principal, Resource string
	// Actor is who made the call, one name per IAM identity (see actorOf).
	Actor string
	// Failed: EKS refused the call (CloudTrail records those too); nothing changed.
	Failed bool
	// Time is when the call was made.
	Time time.Time
	// detail canonicalizes what the call asked for, to tell the operator's own
	// writes from others' (writeKey).
	detail string
}

// accessEntryWrites are the operations an Event may name.
var accessEntryWrites = []string{"CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry",
	"AssociateAccessPolicy", "DisassociateAccessPolicy", "TagResource", "UntagResource"}

// ErrNotAccessEntryWrite: a well-formed event of some other call (DescribeCluster,
// CreateNodegroup, a tag on a cluster...): nothing to do.
var ErrNotAccessEntryWrite = errors.New("not a write to an access entry")

// eventEnvelope is an EventBridge event; an SNS notification carries one as its
// Message, for queues fed through a topic.
type eventEnvelope struct {
	Source  string          `json:"source"`
	Account string          `json:"account"`
	Region  string          `json:"region"`
	Detail  json.RawMessage `json:"detail"`

	Type    string `json:"Type"`
	Message string `json:"Message"`
}

type cloudTrailDetail struct {
	EventID            string          `json:"eventID"`
	EventName          string          `json:"eventName"`
	EventSource        string          `json:"eventSource"`
	EventTime          time.Time       `json:"eventTime"`
	AWSRegion          string          `json:"awsRegion"`
	RecipientAccountID string          `json:"recipientAccountId"`
	ErrorCode          string          `json:"errorCode"`
	UserIdentity       userIdentity    `json:"userIdentity"`
	RequestParameters  json.RawMessage `json:"requestParameters"`
}

type userIdentity struct {
	Type           string `json:"type"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	InvokedBy      string `json:"invokedBy"`
	SessionContext struct {
		SessionIssuer struct {
			ARN string `json:"arn"`
		} `json:"sessionIssuer"`
	} `json:"sessionContext"`
}

// requestParameters are the members of the access-entry writes: the path's
// labels under their URI names (name is the cluster; clusterName is read too,
// in case CloudTrail spells it by its model name) and the body's members.
type requestParameters struct {
	Name             string            `json:"name"`
	ClusterName      string            `json:"clusterName"`
	PrincipalARN     string            `json:"principalArn"`
	PolicyARN        string            `json:"policyArn"`
	ResourceARN      string            `json:"resourceArn"`
	KubernetesGroups *[]string         `json:"kubernetesGroups"`
	Username         *string           `json:"username"`
	Tags             map[string]string `json:"tags"`
	TagKeys          []string          `json:"tagKeys"`
	AccessScope      *struct {
		Type       string   `json:"type"`
		Namespaces []string `json:"namespaces"`
	} `json:"accessScope"`
}

// ParseEvent reads one message body. An error says the body is not a CloudTrail
// event at all (malformed), or, as ErrNotAccessEntryWrite, an event of another call.
func ParseEvent(body []byte) (Event, error) {
	var env eventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("not JSON: %w", err)
	}
	if env.Type == "Notification" && env.Message != "" {
		return ParseEvent([]byte(env.Message))
	}
	if len(env.Detail) == 0 {
		return Event{}, errors.New("no detail: not an EventBridge event")
	}
	var d cloudTrailDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		return Event{}, fmt.Errorf("detail is not a CloudTrail record: %w", err)
	}
	if d.EventName == "" {
		return Event{}, errors.New("detail names no eventName: not a CloudTrail record")
	}
	if env.Source != "aws.eks" && d.EventSource != "eks.amazonaws.com" || !slices.Contains(accessEntryWrites, d.EventName) {
		return Event{}, ErrNotAccessEntryWrite
	}
	var p requestParameters
	if len(d.RequestParameters) > 0 && string(d.RequestParameters) != "null" {
		if err := json.Unmarshal(d.RequestParameters, &p); err != nil {
			return Event{}, fmt.Errorf("requestParameters of %s: %w", d.EventName, err)
		}
	}
	ev := Event{ID: d.EventID, Name: d.EventName, Account: firstOf(d.RecipientAccountID, env.Account),
		Region: firstOf(d.AWSRegion, env.Region), Cluster: firstOf(p.Name, p.ClusterName), Principal: p.PrincipalARN,
		Resource: p.ResourceARN, Actor: actorOfIdentity(d.UserIdentity), Failed: d.ErrorCode != "", Time: d.EventTime}
	if ev.Resource != "" {
		// Tag writes name the entry by its ARN: access-entry/<cluster>/<type>/<account>/<name>/<id>.
		cluster, err := clusterOfEntryARN(ev.Resource)
		if err != nil {
			return Event{}, ErrNotAccessEntryWrite // a cluster's or a node group's tags
		}
		ev.Cluster = cluster
	}
	if ev.Account == "" || ev.Region == "" || ev.Cluster == "" || ev.Principal == "" && ev.Resource == "" {
		return Event{}, fmt.Errorf("%s event %s names no account, region, cluster or principal", d.EventName, d.EventID)
	}
	ev.detail = detailOf(ev.Name, p.PolicyARN, p.KubernetesGroups, p.Username, p.Tags, p.TagKeys, scopeOf(p))
	return ev, nil
}

func scopeOf(p requestParameters) string {
	if p.AccessScope == nil {
		return ""
	}
	ns := slices.Sorted(slices.Values(p.AccessScope.Namespaces))
	return p.AccessScope.Type + ":" + strings.Join(ns, ",")
}

// detailOf canonicalizes what a write asked for, alike from the SDK's input and
// from CloudTrail's requestParameters: two writes of one actor to one entry are
// told apart by it.
func detailOf(op, policy string, groups *[]string, username *string, tags map[string]string, tagKeys []string, scope string) string {
	var b strings.Builder
	switch op {
	case "UpdateAccessEntry":
		if groups != nil {
			b.WriteString("groups=" + strings.Join(slices.Sorted(slices.Values(*groups)), ","))
		}
		if username != nil {
			b.WriteString(";username=" + *username)
		}
	case "AssociateAccessPolicy":
		b.WriteString(policy + ";" + scope)
	case "DisassociateAccessPolicy":
		b.WriteString(policy)
	case "TagResource":
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range tags {
				if !yield(k) {
					return
				}
			}
		}) {
			b.WriteString(k + "=" + tags[k] + ";")
		}
	case "UntagResource":
		b.WriteString(strings.Join(slices.Sorted(slices.Values(tagKeys)), ","))
	}
	return b.String()
}

// actorOfIdentity names a CloudTrail caller the way actorOfARN names the
// operator: a role by its account and name (whatever the session), a user by
// its account and name, the root by its account; "service:<name>" for calls
// AWS services make.
func actorOfIdentity(u userIdentity) string {
	switch {
	case u.SessionContext.SessionIssuer.ARN != "":
		return actorOfARN(u.SessionContext.SessionIssuer.ARN)
	case u.ARN != "":
		return actorOfARN(u.ARN)
	case u.InvokedBy != "":
		return "service:" + u.InvokedBy
	}
	return u.Type + ":" + u.AccountID
}

// actorOfARN names an IAM identity from an ARN STS or IAM gives: roles and
// assumed roles by account and role name (paths and session names dropped),
// users by account and name, the root by account.
func actorOfARN(s string) string {
	a, err := arn.Parse(s)
	if err != nil {
		return s
	}
	kind, rest, _ := strings.Cut(a.Resource, "/")
	switch kind {
	case "assumed-role":
		name, _, _ := strings.Cut(rest, "/")
		return a.AccountID + ":role/" + name
	case "role", "user":
		return a.AccountID + ":" + kind + "/" + rest[strings.LastIndex(rest, "/")+1:]
	}
	return a.AccountID + ":" + a.Resource
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clusterOfEntryARN is the cluster an access entry's ARN names:
// arn:aws:eks:<region>:<account>:access-entry/<cluster>/<type>/<account>/<name>/<id>.
func clusterOfEntryARN(s string) (string, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(a.Resource, "access-entry/")
	cluster, _, _ := strings.Cut(rest, "/")
	if !ok || cluster == "" {
		return "", fmt.Errorf("%s is not an access entry's ARN", s)
	}
	return cluster, nil
}

// lowerPrincipal folds a principal's ARN for comparison: IAM names are
// case-insensitive, and a person may spell one differently from the operator.
func lowerPrincipal(s string) string { return strings.ToLower(s) }
