// Package ownership reads and writes the tags that mark an EKS access entry as
// managed by one AccessEntry of one operator instance. It imports nothing of
// Kubernetes, so that the kubectl plugin links it without the controller manager.
package ownership

import "strings"

// The ownership tags. Their prefix is the one spec.tags may not use.
const (
	Prefix       = "eksaccess.io/"
	TagInstance  = Prefix + "instance"
	TagNamespace = Prefix + "namespace"
	TagName      = Prefix + "name"
)

// Count is how many tags ownership takes of the 50 EKS allows on an entry.
const Count = 3

// Owner is the object an entry's ownership tags name.
type Owner struct {
	Instance, Namespace, Name string
}

func (o Owner) String() string {
	return o.Namespace + "/" + o.Name + " (operator instance " + o.Instance + ")"
}

// Tags are the ownership tags that name o.
func (o Owner) Tags() map[string]string {
	return map[string]string{TagInstance: o.Instance, TagNamespace: o.Namespace, TagName: o.Name}
}

// Of reads the ownership tags of an entry; false when it has none.
func Of(tags map[string]string) (Owner, bool) {
	o := Owner{Instance: tags[TagInstance], Namespace: tags[TagNamespace], Name: tags[TagName]}
	return o, o != Owner{}
}

// IsOwnershipKey reports whether a tag key is in the operator's reserved prefix, in
// any case (EKS tag keys are case-sensitive, but the CRD refuses the prefix in any case).
func IsOwnershipKey(key string) bool {
	return strings.HasPrefix(strings.ToLower(key), Prefix)
}
