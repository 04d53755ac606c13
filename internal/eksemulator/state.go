package eksemulator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

type clusterKey struct{ account, region, name string }

func (k clusterKey) String() string { return k.account + "/" + k.region + "/" + k.name }

// partition is the partition of the cluster's region, which every ARN the
// emulator makes for it uses.
func (c *cluster) partition() string { return PartitionOf(c.key.region) }

type cluster struct {
	key             clusterKey
	arn             string
	createdAt       time.Time
	mode            string
	version         string
	platformVersion string
	creatorAdmin    string
	made            []madeEntry // entries EKS makes itself, creator's first
	maxEntries      int
	tags            map[string]string

	entries map[string]*entry // by principal ARN, visible or not
	// deleted holds principals whose delete has not propagated yet: a create
	// for them is still refused until the time recorded here.
	deleted      map[string]time.Time
	createTokens map[string]*createToken
	updates      []*update
	updateTokens map[string]*update
}

type entry struct {
	principal   principalRef
	principalID string
	typ         string
	username    string
	groups      []string
	tags        map[string]string
	arn         string
	createdAt   time.Time
	modifiedAt  time.Time
	visibleAt   time.Time
	policies    map[string]*association
}

type association struct {
	policyARN    string
	scope        accessScopeJSON
	associatedAt time.Time
	modifiedAt   time.Time
}

// createToken remembers a CreateAccessEntry by its clientRequestToken so that
// a retry returns the first result instead of a 409.
type createToken struct {
	fingerprint string
	entryARN    string
	response    accessEntryJSON
}

type update struct {
	id        string
	from, to  string
	createdAt time.Time
	doneAt    time.Time
	status    string
}

type principal struct {
	arn       string
	id        string
	createdAt time.Time
	visibleAt time.Time
}

func (e *entry) visible(now time.Time) bool { return !now.Before(e.visibleAt) }

// settle advances time-driven state: finished mode updates and propagated
// deletes. State is evaluated lazily, so the server needs no timers.
func (c *cluster) settle(s *Server, now time.Time) {
	for _, u := range c.updates {
		if u.status != "InProgress" || now.Before(u.doneAt) {
			continue
		}
		u.status = "Successful"
		c.mode = u.to
		if u.from == ModeConfigMap {
			// EKS bootstraps the creator's admin entry, and those of node groups,
			// Fargate profiles, Auto Mode and capabilities, when the API becomes usable.
			s.addMadeEntries(c, u.doneAt)
		}
	}
	for p, until := range c.deleted {
		if !now.Before(until) {
			delete(c.deleted, p)
		}
	}
}

func (c *cluster) status(now time.Time) string {
	for _, u := range c.updates {
		if u.status == "InProgress" && now.Before(u.doneAt) {
			return "UPDATING"
		}
	}
	return "ACTIVE"
}

func (c *cluster) inProgress() *update {
	for _, u := range c.updates {
		if u.status == "InProgress" {
			return u
		}
	}
	return nil
}

// visibleEntry returns the entry of a principal if reads can see it.
func (c *cluster) visibleEntry(principalARN string, now time.Time) (*entry, *apiError) {
	e := c.entries[principalARN]
	if e == nil || !e.visible(now) {
		return nil, resourceNotFound(msgEntryNotFound).withCluster(c.key.name)
	}
	return e, nil
}

// newEntry builds an entry with EKS's defaults. Caller holds s.mu.
func (s *Server) newEntry(c *cluster, p principalRef, typ string, now time.Time) *entry {
	return &entry{
		principal:   p,
		principalID: s.principalID(p, now),
		typ:         typ,
		username:    defaultUsername(p, typ),
		groups:      defaultGroups(typ),
		tags:        map[string]string{},
		arn: fmt.Sprintf("arn:%s:eks:%s:%s:access-entry/%s/%s/%s/%s/%s",
			c.partition(), c.key.region, c.key.account, c.key.name, p.Kind, p.Account, p.Name, s.newUUID()),
		createdAt:  now,
		modifiedAt: now,
		visibleAt:  now,
		policies:   map[string]*association{},
	}
}

// principalUsable reports whether IAM would resolve the principal now: a
// known principal once it has propagated, an unknown one only in permissive
// mode and when it was not deleted.
func (s *Server) principalUsable(arn string, now time.Time) bool {
	if p := s.principals[arn]; p != nil {
		return !now.Before(p.visibleAt)
	}
	return s.permissive && !s.deleted[arn]
}

// principalID returns the unique ID of a principal, minting one on first use
// in permissive mode. Caller holds s.mu.
func (s *Server) principalID(p principalRef, now time.Time) string {
	if rec := s.principals[p.ARN]; rec != nil {
		return rec.id
	}
	rec := &principal{arn: p.ARN, id: s.newPrincipalID(p.Kind), createdAt: now, visibleAt: now}
	s.principals[p.ARN] = rec
	return rec.id
}

// AddPrincipal makes an IAM principal exist, as if it had just been created:
// it becomes usable after the consistency delay. Adding an existing principal
// changes nothing.
func (s *Server) AddPrincipal(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.principals[arn] != nil {
		return
	}
	s.addPrincipalLocked(arn, time.Now())
}

// RecreatePrincipal deletes and recreates an IAM principal under the same ARN.
// It gets a new unique ID and propagates like a new principal; entries made for
// the old ID are reported with PrincipalStale.
func (s *Server) RecreatePrincipal(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addPrincipalLocked(arn, time.Now())
}

func (s *Server) addPrincipalLocked(arn string, now time.Time) {
	kind := "role"
	if p, err := parsePrincipalARN(arn); err == nil {
		kind = p.Kind
	}
	s.principals[arn] = &principal{arn: arn, id: s.newPrincipalID(kind), createdAt: now, visibleAt: now.Add(s.consistencyDelay())}
	delete(s.deleted, arn)
}

// PrincipalID returns the current unique ID (AROA.../AIDA...) of a principal
// the emulator knows, or "" if it knows none by that ARN.
func (s *Server) PrincipalID(arn string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.principals[arn]; p != nil {
		return p.id
	}
	return ""
}

// Entry is an access entry as the emulator holds it, visible to reads or not.
type Entry struct {
	PrincipalARN     string            `json:"principalArn"`
	Type             string            `json:"type"`
	Username         string            `json:"username"`
	AccessEntryARN   string            `json:"accessEntryArn"`
	KubernetesGroups []string          `json:"kubernetesGroups"`
	Tags             map[string]string `json:"tags"`
	Policies         []Policy          `json:"policies"`
	CreatedAt        time.Time         `json:"createdAt"`
	ModifiedAt       time.Time         `json:"modifiedAt"`

	// Visible is false while a create is still propagating (until VisibleAt).
	Visible   bool      `json:"visible"`
	VisibleAt time.Time `json:"visibleAt"`
	// PrincipalID is the unique ID of the principal the entry was made for;
	// PrincipalStale is set when that principal has since been recreated, so on
	// AWS the entry would no longer grant access.
	PrincipalID    string `json:"principalId"`
	PrincipalStale bool   `json:"principalStale"`
}

// Policy is an access policy associated with an entry.
type Policy struct {
	PolicyARN    string    `json:"policyArn"`
	ScopeType    string    `json:"scopeType"`
	Namespaces   []string  `json:"namespaces,omitempty"`
	AssociatedAt time.Time `json:"associatedAt"`
	ModifiedAt   time.Time `json:"modifiedAt"`
}

// Entries returns every access entry of a cluster, visible or not, sorted by
// principal ARN; nil if there is no such cluster.
func (s *Server) Entries(account, region, clusterName string) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[clusterKey{account, region, clusterName}]
	if c == nil {
		return nil
	}
	now := time.Now()
	c.settle(s, now)
	return s.exportEntries(c, now)
}

// Entry returns the access entry of a principal in a cluster, visible or not.
func (s *Server) Entry(account, region, clusterName, principalARN string) (Entry, bool) {
	for _, e := range s.Entries(account, region, clusterName) {
		if e.PrincipalARN == principalARN {
			return e, true
		}
	}
	return Entry{}, false
}

// Backdate moves the creation and modification times of an entry back by d, as if
// it had been made that much earlier: for tests of what depends on an entry's age.
// It reports whether the entry exists.
func (s *Server) Backdate(account, region, clusterName, principalARN string, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[clusterKey{account, region, clusterName}]
	if c == nil || c.entries[principalARN] == nil {
		return false
	}
	e := c.entries[principalARN]
	e.createdAt, e.modifiedAt = e.createdAt.Add(-d), e.modifiedAt.Add(-d)
	return true
}

func (s *Server) exportEntries(c *cluster, now time.Time) []Entry {
	out := []Entry{}
	for _, p := range slices.Sorted(maps.Keys(c.entries)) {
		e := c.entries[p]
		x := Entry{
			PrincipalARN:     e.principal.ARN,
			Type:             e.typ,
			Username:         e.username,
			AccessEntryARN:   e.arn,
			KubernetesGroups: slices.Clone(e.groups),
			Tags:             maps.Clone(e.tags),
			Policies:         []Policy{},
			CreatedAt:        e.createdAt,
			ModifiedAt:       e.modifiedAt,
			Visible:          e.visible(now),
			VisibleAt:        e.visibleAt,
			PrincipalID:      e.principalID,
		}
		if rec := s.principals[p]; rec != nil && rec.id != e.principalID {
			x.PrincipalStale = true
		}
		for _, pa := range slices.Sorted(maps.Keys(e.policies)) {
			a := e.policies[pa]
			x.Policies = append(x.Policies, Policy{
				PolicyARN:    a.policyARN,
				ScopeType:    a.scope.Type,
				Namespaces:   slices.Clone(a.scope.Namespaces),
				AssociatedAt: a.associatedAt,
				ModifiedAt:   a.modifiedAt,
			})
		}
		out = append(out, x)
	}
	return out
}

// State is a snapshot of the whole emulated world, as served on /_emulator/state.
type State struct {
	Clusters   []ClusterState   `json:"clusters"`
	Principals []PrincipalState `json:"principals"`
	Permissive bool             `json:"permissive"`
}

// ClusterState is one cluster in a State snapshot.
type ClusterState struct {
	Name               string            `json:"name"`
	Account            string            `json:"account"`
	Region             string            `json:"region"`
	ARN                string            `json:"arn"`
	Status             string            `json:"status"`
	AuthenticationMode string            `json:"authenticationMode"`
	KubernetesVersion  string            `json:"kubernetesVersion"`
	PlatformVersion    string            `json:"platformVersion"`
	CreatedAt          time.Time         `json:"createdAt"`
	Tags               map[string]string `json:"tags"`
	Entries            []Entry           `json:"entries"`
	Updates            []UpdateState     `json:"updates"`
}

// UpdateState is one authentication-mode update of a cluster.
type UpdateState struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	CreatedAt time.Time `json:"createdAt"`
}

// PrincipalState is one IAM principal the emulator knows.
type PrincipalState struct {
	ARN     string `json:"arn"`
	ID      string `json:"id"`
	Visible bool   `json:"visible"`
}

// State returns a snapshot of clusters (with entries, policies, tags and
// updates) and known principals.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	st := State{Clusters: []ClusterState{}, Principals: []PrincipalState{}, Permissive: s.permissive}
	for _, k := range s.clusterOrder {
		c := s.clusters[k]
		c.settle(s, now)
		cs := ClusterState{
			Name: k.name, Account: k.account, Region: k.region, ARN: c.arn,
			Status: c.status(now), AuthenticationMode: c.mode,
			KubernetesVersion: c.version, PlatformVersion: c.platformVersion,
			CreatedAt: c.createdAt, Tags: maps.Clone(c.tags),
			Entries: s.exportEntries(c, now), Updates: []UpdateState{},
		}
		for _, u := range c.updates {
			cs.Updates = append(cs.Updates, UpdateState{ID: u.id, Type: "AccessConfigUpdate", Status: u.status, From: u.from, To: u.to, CreatedAt: u.createdAt})
		}
		st.Clusters = append(st.Clusters, cs)
	}
	for _, arn := range slices.Sorted(maps.Keys(s.principals)) {
		p := s.principals[arn]
		st.Principals = append(st.Principals, PrincipalState{ARN: arn, ID: p.id, Visible: !now.Before(p.visibleAt)})
	}
	return st
}

// newUUID returns a random (seeded) UUID in the v4 layout.
func (s *Server) newUUID() string { return uuidFrom(s.rngIDs) }

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newPrincipalID returns an IAM-style unique ID: AROA... for roles, AIDA... for users.
func (s *Server) newPrincipalID(kind string) string {
	prefix := "AROA"
	if kind == "user" {
		prefix = "AIDA"
	}
	return prefix + s.randomString(17, idAlphabet)
}

func (s *Server) randomString(n int, alphabet string) string {
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[s.rngIDs.IntN(len(alphabet))])
	}
	return b.String()
}
