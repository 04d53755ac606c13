package eksemulator

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"sigs.k8s.io/yaml"
)

// Authentication modes of an EKS cluster, in the only order they may change.
const (
	ModeConfigMap       = "CONFIG_MAP"
	ModeAPIAndConfigMap = "API_AND_CONFIG_MAP"
	ModeAPI             = "API"
)

// Defaults applied by New when a field is left empty.
const (
	DefaultAccountID         = "111122223333"
	DefaultRegion            = "us-west-2"
	DefaultClusterName       = "demo"
	DefaultKubernetesVersion = "1.34"
	DefaultPlatformVersion   = "eks.10"
	DefaultUpdateDuration    = 2 * time.Second
)

// Config describes the emulated world and its misbehaviour. The zero value is
// usable: one cluster "demo" in 111122223333/us-west-2, permissive principals,
// no delays and no faults.
type Config struct {
	Clusters []ClusterConfig `json:"clusters"`
	// Principals lists the IAM roles and users that exist. Nil means permissive
	// mode (any well-formed ARN exists); an empty, non-nil list means none does.
	Principals []string `json:"principals,omitempty"`
	// PermissionSets are IAM Identity Center permission sets assigned to
	// accounts: each is a role AWSReservedSSO_<name>_<random suffix> under
	// SSORolePath, existing from the start (in permissive mode too).
	PermissionSets []PermissionSetConfig `json:"permissionSets,omitempty"`
	// DefaultAccount is the account of callers that did not assume a role through
	// the emulator; the first cluster's account when empty.
	DefaultAccount string `json:"defaultAccount,omitempty"`
	// Roles are the trust policies of roles callers assume: who may, and with
	// which external ID. A role not listed may be assumed by anyone.
	Roles []RoleTrust `json:"roles,omitempty"`

	// ConsistencyDelay is the propagation delay of creates, deletes and new
	// principals: fixed, or the maximum of a seeded random delay when
	// ConsistencyRandom is set.
	ConsistencyDelay  time.Duration `json:"-"`
	ConsistencyRandom bool          `json:"-"`
	// Throttled are accounts whose every EKS call is answered 429
	// ThrottlingException (a throttling storm); the others are served.
	Throttled []string `json:"-"`
	// Seed drives every random choice (IDs, delays, jitter, faults), so a test
	// that makes the same calls in the same order sees the same outcomes.
	Seed int64 `json:"-"`
	// RateLimit is the sustained request rate per account (token bucket);
	// 0 means unlimited. Burst is the bucket size (default: ceil(RateLimit)).
	RateLimit float64 `json:"-"`
	Burst     int     `json:"-"`
	// Latency is added to every EKS call, plus a seeded random part up to MaxJitter.
	Latency   time.Duration `json:"-"`
	MaxJitter time.Duration `json:"-"`
	// FaultRate is the share (0..1) of EKS calls answered with 500 ServerException.
	FaultRate float64 `json:"-"`
	// UpdateDuration is how long an authentication-mode update keeps the cluster
	// UPDATING (default 2s).
	UpdateDuration time.Duration `json:"-"`
	// Events, with a queue, publishes EKS's CloudTrail events of the writes to
	// an SQS queue the emulator serves (see EventsConfig); none by default.
	Events EventsConfig `json:"-"`

	// Logger, when set, receives one debug line per call (operation, outcome).
	Logger *slog.Logger `json:"-"`
}

// ClusterConfig describes one emulated cluster.
type ClusterConfig struct {
	Name    string `json:"name"`
	Account string `json:"account"`
	Region  string `json:"region"`
	// AuthenticationMode is CONFIG_MAP, API_AND_CONFIG_MAP (default) or API.
	AuthenticationMode string `json:"authenticationMode,omitempty"`
	KubernetesVersion  string `json:"kubernetesVersion,omitempty"`
	PlatformVersion    string `json:"platformVersion,omitempty"`
	// CreatorAdmin is the IAM principal that created the cluster. When set, it
	// has a STANDARD entry with AmazonEKSClusterAdminPolicy at cluster scope; on a
	// CONFIG_MAP cluster EKS makes that entry when the mode first allows the API.
	CreatorAdmin string `json:"creatorAdmin,omitempty"`
	// MaxAccessEntries is the cluster's quota of access entries: a create beyond
	// it is refused with ResourceLimitExceededException. 0: no quota.
	MaxAccessEntries int `json:"maxAccessEntries,omitempty"`

	// The cluster's node groups, Fargate profiles, Auto Mode and capabilities,
	// for the access entries EKS makes for their roles (see eksmade.go). Like the
	// creator's entry, they exist from the start, or from when the
	// authentication mode first allows the API; their roles exist in IAM. All
	// roles must be in the cluster's account, and no role may serve two of them
	// (node groups of the same OS may share a node role).
	NodeGroups      []NodeGroupConfig      `json:"nodeGroups,omitempty"`
	FargateProfiles []FargateProfileConfig `json:"fargateProfiles,omitempty"`
	AutoMode        *AutoModeConfig        `json:"autoMode,omitempty"`
	Capabilities    []CapabilityConfig     `json:"capabilities,omitempty"`
}

// NodeGroupConfig is a managed node group: EKS gives its node role an
// EC2_LINUX entry, or EC2_WINDOWS for Windows nodes.
type NodeGroupConfig struct {
	Name        string `json:"name"`
	NodeRoleARN string `json:"nodeRoleArn"`
	Windows     bool   `json:"windows,omitempty"`
}

// FargateProfileConfig is a Fargate profile: EKS gives its pod execution role a
// FARGATE_LINUX entry.
type FargateProfileConfig struct {
	Name                string `json:"name"`
	PodExecutionRoleARN string `json:"podExecutionRoleArn"`
}

// AutoModeConfig turns on EKS Auto Mode: EKS gives the cluster role a STANDARD
// entry with the Auto Mode access policies and, when the built-in node pools
// are on (NodeRoleARN set), the node role an EC2 entry with
// AmazonEKSAutoNodePolicy.
type AutoModeConfig struct {
	ClusterRoleARN string `json:"clusterRoleArn"`
	NodeRoleARN    string `json:"nodeRoleArn,omitempty"`
}

// Capability types of EKS Capabilities (CreateCapability).
const (
	CapabilityACK    = "ACK"
	CapabilityArgoCD = "ARGOCD"
	CapabilityKRO    = "KRO"
)

// CapabilityConfig is an EKS capability: EKS gives its role a STANDARD entry
// with the capability's access policies.
type CapabilityConfig struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // ACK, ARGOCD or KRO
	RoleARN string `json:"roleArn"`
	// Namespace is the Argo CD capability's namespace, where
	// AmazonEKSArgoCDPolicy is scoped (default argocd); ARGOCD only.
	Namespace string `json:"namespace,omitempty"`
}

// RoleTrust is the trust policy of one role.
type RoleTrust struct {
	RoleARN string `json:"roleArn"`
	// TrustedAccounts may assume the role (any when empty).
	TrustedAccounts []string `json:"trustedAccounts,omitempty"`
	// ExternalID, when set, must be passed to AssumeRole.
	ExternalID string `json:"externalId,omitempty"`
}

var (
	permissionSetNameRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,32}$`)
	suffixRE            = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// PermissionSetConfig is a permission set assigned to an account.
type PermissionSetConfig struct {
	// Name of the set, such as Developers.
	Name string `json:"name"`
	// Account it is assigned to; DefaultAccount when empty.
	Account string `json:"account,omitempty"`
	// Region, when set, puts the role under SSORolePath/<region>/, as
	// Identity Center does in some accounts.
	Region string `json:"region,omitempty"`
	// Suffix of the role's name (16 hex digits); random when empty.
	Suffix string `json:"suffix,omitempty"`
}

// fileConfig is the YAML file format: Config plus the fault settings, with
// durations written as Go duration strings ("2s", "150ms").
type fileConfig struct {
	Clusters          []ClusterConfig       `json:"clusters"`
	Principals        []string              `json:"principals"`
	PermissionSets    []PermissionSetConfig `json:"permissionSets"`
	DefaultAccount    string                `json:"defaultAccount"`
	Roles             []RoleTrust           `json:"roles"`
	ConsistencyDelay  string                `json:"consistencyDelay"`
	ConsistencyRandom bool                  `json:"consistencyRandom"`
	Seed              int64                 `json:"seed"`
	RateLimit         float64               `json:"rateLimit"`
	Burst             int                   `json:"burst"`
	Latency           string                `json:"latency"`
	MaxJitter         string                `json:"maxJitter"`
	FaultRate         float64               `json:"faultRate"`
	UpdateDuration    string                `json:"updateDuration"`
	Events            eventsFile            `json:"events"`
}

// eventsFile is EventsConfig in the file: events: {queue: eks-access-events,
// delay: 2s, maxExtraDelay: 5s, loss: 0.01, duplicates: 0.05}.
type eventsFile struct {
	Queue         string  `json:"queue"`
	Delay         string  `json:"delay"`
	MaxExtraDelay string  `json:"maxExtraDelay"`
	Loss          float64 `json:"loss"`
	Duplicates    float64 `json:"duplicates"`
}

// LoadConfig reads a YAML configuration file. Unknown keys are an error so
// that a typo does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var fc fileConfig
	if err := yaml.UnmarshalStrict(data, &fc); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg := Config{
		Clusters:          fc.Clusters,
		Principals:        fc.Principals,
		PermissionSets:    fc.PermissionSets,
		DefaultAccount:    fc.DefaultAccount,
		Roles:             fc.Roles,
		ConsistencyRandom: fc.ConsistencyRandom,
		Seed:              fc.Seed,
		RateLimit:         fc.RateLimit,
		Burst:             fc.Burst,
		FaultRate:         fc.FaultRate,
		Events:            EventsConfig{Queue: fc.Events.Queue, Loss: fc.Events.Loss, Duplicates: fc.Events.Duplicates},
	}
	durations := []struct {
		name string
		in   string
		out  *time.Duration
	}{
		{"consistencyDelay", fc.ConsistencyDelay, &cfg.ConsistencyDelay},
		{"latency", fc.Latency, &cfg.Latency},
		{"maxJitter", fc.MaxJitter, &cfg.MaxJitter},
		{"updateDuration", fc.UpdateDuration, &cfg.UpdateDuration},
		{"events.delay", fc.Events.Delay, &cfg.Events.Delay},
		{"events.maxExtraDelay", fc.Events.MaxExtraDelay, &cfg.Events.MaxExtraDelay},
	}
	for _, d := range durations {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %s: %w", path, d.name, err)
		}
		*d.out = v
	}
	if _, err := normalizeConfig(cfg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var (
	clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
)

// normalizeConfig fills in defaults and refuses a configuration the emulator
// could not serve consistently.
func normalizeConfig(cfg Config) (Config, error) {
	if cfg.DefaultAccount != "" && !accountRE.MatchString(cfg.DefaultAccount) {
		return cfg, fmt.Errorf("defaultAccount %q is not a 12-digit account ID", cfg.DefaultAccount)
	}
	if len(cfg.Clusters) == 0 {
		cfg.Clusters = []ClusterConfig{{Name: DefaultClusterName}}
	}
	clusters := make([]ClusterConfig, len(cfg.Clusters))
	seen := map[clusterKey]bool{}
	for i, c := range cfg.Clusters {
		if c.Account == "" {
			c.Account = cfg.DefaultAccount
		}
		if c.Account == "" {
			c.Account = DefaultAccountID
		}
		if c.Region == "" {
			c.Region = DefaultRegion
		}
		if c.AuthenticationMode == "" {
			c.AuthenticationMode = ModeAPIAndConfigMap
		}
		if c.KubernetesVersion == "" {
			c.KubernetesVersion = DefaultKubernetesVersion
		}
		if c.PlatformVersion == "" {
			c.PlatformVersion = DefaultPlatformVersion
		}
		switch {
		case !clusterNameRE.MatchString(c.Name):
			return cfg, fmt.Errorf("clusters[%d]: name %q must match %s", i, c.Name, clusterNameRE)
		case !accountRE.MatchString(c.Account):
			return cfg, fmt.Errorf("clusters[%d] %s: account %q is not a 12-digit account ID", i, c.Name, c.Account)
		case !knownRegionShape(c.Region):
			return cfg, fmt.Errorf("clusters[%d] %s: region %q is not a region name of any partition (like us-west-2, cn-north-1, us-gov-west-1 or eusc-de-east-1)", i, c.Name, c.Region)
		case modeRank(c.AuthenticationMode) < 0:
			return cfg, fmt.Errorf("clusters[%d] %s: authenticationMode %q must be one of CONFIG_MAP, API_AND_CONFIG_MAP, API", i, c.Name, c.AuthenticationMode)
		case c.MaxAccessEntries < 0:
			return cfg, fmt.Errorf("clusters[%d] %s: maxAccessEntries %d must be 0 (no quota) or more", i, c.Name, c.MaxAccessEntries)
		}
		if _, err := madeEntriesFor(c); err != nil {
			return cfg, fmt.Errorf("clusters[%d] %s: %w", i, c.Name, err)
		}
		k := clusterKey{c.Account, c.Region, c.Name}
		if seen[k] {
			return cfg, fmt.Errorf("clusters[%d]: cluster %s is defined twice in %s/%s", i, c.Name, c.Account, c.Region)
		}
		seen[k] = true
		clusters[i] = c
	}
	cfg.Clusters = clusters
	if cfg.DefaultAccount == "" {
		cfg.DefaultAccount = clusters[0].Account
	}
	for i, p := range cfg.Principals {
		if _, err := parsePrincipalARN(p); err != nil {
			return cfg, fmt.Errorf("principals[%d]: %s", i, err.message)
		}
	}
	for i, ps := range cfg.PermissionSets {
		switch {
		case !permissionSetNameRE.MatchString(ps.Name):
			return cfg, fmt.Errorf("permissionSets[%d]: name %q is not a permission set name (1 to 32 letters, digits and + = , . @ _ -)", i, ps.Name)
		case ps.Account != "" && !accountRE.MatchString(ps.Account):
			return cfg, fmt.Errorf("permissionSets[%d]: account %q is not a 12-digit account ID", i, ps.Account)
		case ps.Suffix != "" && !suffixRE.MatchString(ps.Suffix):
			return cfg, fmt.Errorf("permissionSets[%d]: suffix %q is not 16 lowercase hex digits", i, ps.Suffix)
		}
		if ps.Account == "" {
			cfg.PermissionSets[i].Account = cfg.DefaultAccount
		}
	}
	if cfg.UpdateDuration <= 0 {
		cfg.UpdateDuration = DefaultUpdateDuration
	}
	f, err := checkFaults(faultsOf(cfg))
	if err != nil {
		return cfg, err
	}
	cfg.RateLimit, cfg.Burst, cfg.FaultRate = f.RateLimit, f.Burst, f.FaultRate
	if err := checkEvents(cfg.Events); err != nil {
		return cfg, fmt.Errorf("events: %w", err)
	}
	return cfg, nil
}

// modeRank orders authentication modes; -1 for an unknown mode.
func modeRank(mode string) int {
	switch mode {
	case ModeConfigMap:
		return 0
	case ModeAPIAndConfigMap:
		return 1
	case ModeAPI:
		return 2
	}
	return -1
}
