package eksemulator

import (
	"encoding/base64"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// epoch is a timestamp on the wire: EKS's REST-JSON protocol sends epoch
// seconds as a JSON number (with milliseconds as a fraction).
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', 3, 64), nil
}

type accessEntryJSON struct {
	ClusterName      string            `json:"clusterName"`
	PrincipalARN     string            `json:"principalArn"`
	KubernetesGroups []string          `json:"kubernetesGroups"`
	AccessEntryARN   string            `json:"accessEntryArn"`
	CreatedAt        epoch             `json:"createdAt"`
	ModifiedAt       epoch             `json:"modifiedAt"`
	Tags             map[string]string `json:"tags"`
	Username         string            `json:"username"`
	Type             string            `json:"type"`
}

func (e *entry) wire(clusterName string) accessEntryJSON {
	return accessEntryJSON{
		ClusterName:      clusterName,
		PrincipalARN:     e.principal.ARN,
		KubernetesGroups: slices.Clone(e.groups),
		AccessEntryARN:   e.arn,
		CreatedAt:        epoch(e.createdAt),
		ModifiedAt:       epoch(e.modifiedAt),
		Tags:             maps.Clone(e.tags),
		Username:         e.username,
		Type:             e.typ,
	}
}

type accessScopeJSON struct {
	Type       string   `json:"type"`
	Namespaces []string `json:"namespaces"`
}

type associatedPolicyJSON struct {
	PolicyARN    string          `json:"policyArn"`
	AccessScope  accessScopeJSON `json:"accessScope"`
	AssociatedAt epoch           `json:"associatedAt"`
	ModifiedAt   epoch           `json:"modifiedAt"`
}

func (a *association) wire() associatedPolicyJSON {
	return associatedPolicyJSON{
		PolicyARN:    a.policyARN,
		AccessScope:  accessScopeJSON{Type: a.scope.Type, Namespaces: slices.Clone(a.scope.Namespaces)},
		AssociatedAt: epoch(a.associatedAt),
		ModifiedAt:   epoch(a.modifiedAt),
	}
}

type updateParamJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type updateJSON struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	Type      string            `json:"type"`
	Params    []updateParamJSON `json:"params"`
	CreatedAt epoch             `json:"createdAt"`
	Errors    []struct{}        `json:"errors"`
}

func (u *update) wire() updateJSON {
	return updateJSON{
		ID:        u.id,
		Status:    u.status,
		Type:      "AccessConfigUpdate",
		Params:    []updateParamJSON{{Type: "AuthenticationMode", Value: u.to}},
		CreatedAt: epoch(u.createdAt),
		Errors:    []struct{}{},
	}
}

type accessConfigJSON struct {
	AuthenticationMode                      string `json:"authenticationMode"`
	BootstrapClusterCreatorAdminPermissions bool   `json:"bootstrapClusterCreatorAdminPermissions"`
}

type clusterJSON struct {
	Name            string            `json:"name"`
	ARN             string            `json:"arn"`
	CreatedAt       epoch             `json:"createdAt"`
	Version         string            `json:"version"`
	PlatformVersion string            `json:"platformVersion"`
	Endpoint        string            `json:"endpoint"`
	Status          string            `json:"status"`
	AccessConfig    accessConfigJSON  `json:"accessConfig"`
	Tags            map[string]string `json:"tags"`
}

// Page tokens are opaque to clients; inside they carry the last key returned.
const tokenPrefix = "eksemu1:"

func encodeToken(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + lastKey))
}

func decodeToken(t string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || !strings.HasPrefix(string(b), tokenPrefix) {
		return "", false
	}
	return strings.TrimPrefix(string(b), tokenPrefix), true
}
