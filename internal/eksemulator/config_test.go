package eksemulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	mustOK(t, os.WriteFile(p, []byte(content), 0o600), "write config")
	return p
}

func TestLoadConfig(t *testing.T) {
	p := writeFile(t, `
clusters:
  - name: demo
    account: "111122223333"
    region: us-west-2
    authenticationMode: API_AND_CONFIG_MAP
    creatorAdmin: arn:aws:iam::111122223333:role/cluster-creator
  - name: legacy
    account: "444455556666"
    region: eu-west-1
    authenticationMode: CONFIG_MAP
    kubernetesVersion: "1.30"
principals:
  - arn:aws:iam::111122223333:role/my-role
defaultAccount: "444455556666"
consistencyDelay: 1500ms
consistencyRandom: true
seed: 9
rateLimit: 10
burst: 20
latency: 5ms
maxJitter: 1ms
faultRate: 0.25
updateDuration: 3s
`)
	cfg, err := LoadConfig(p)
	mustOK(t, err, "LoadConfig")
	if len(cfg.Clusters) != 2 || cfg.Clusters[0].CreatorAdmin != "arn:aws:iam::111122223333:role/cluster-creator" ||
		cfg.Clusters[1].AuthenticationMode != ModeConfigMap || cfg.Clusters[1].KubernetesVersion != "1.30" {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}
	if len(cfg.Principals) != 1 || cfg.DefaultAccount != otherAccount {
		t.Errorf("principals %v, default account %q", cfg.Principals, cfg.DefaultAccount)
	}
	if cfg.ConsistencyDelay != 1500*time.Millisecond || !cfg.ConsistencyRandom || cfg.Seed != 9 || cfg.RateLimit != 10 || cfg.Burst != 20 ||
		cfg.Latency != 5*time.Millisecond || cfg.MaxJitter != time.Millisecond || cfg.FaultRate != 0.25 || cfg.UpdateDuration != 3*time.Second {
		t.Errorf("fault settings = %+v", cfg)
	}

	s, err := New(cfg)
	mustOK(t, err, "New from file")
	st := s.State()
	if st.Permissive || len(st.Clusters) != 2 || len(st.Clusters[0].Entries) != 1 || len(st.Clusters[1].Entries) != 0 {
		t.Errorf("state: permissive %v, clusters %+v", st.Permissive, st.Clusters)
	}
}

func TestLoadConfigRefusesMistakes(t *testing.T) {
	tests := map[string]string{
		"unknown key":      "clusters:\n  - name: demo\n    authMode: API\n",
		"bad duration":     "consistencyDelay: soon\n",
		"bad mode":         "clusters:\n  - name: demo\n    authenticationMode: OIDC\n",
		"numeric account":  "clusters:\n  - name: demo\n    account: 1234\n",
		"assumed-role ARN": "principals:\n  - arn:aws:sts::111122223333:assumed-role/r/s\n",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadConfig(writeFile(t, content)); err == nil {
				t.Fatal("LoadConfig accepted the file")
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Fatal("LoadConfig accepted a missing file")
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Config{})
	mustOK(t, err, "New")
	st := s.State()
	if len(st.Clusters) != 1 || !st.Permissive {
		t.Fatalf("state = %+v", st)
	}
	c := st.Clusters[0]
	if c.Name != "demo" || c.Account != testAccount || c.Region != testRegion || c.AuthenticationMode != ModeAPIAndConfigMap ||
		c.KubernetesVersion != "1.34" || c.PlatformVersion != "eks.10" || c.Status != "ACTIVE" || len(c.Entries) != 0 {
		t.Fatalf("default cluster = %+v", c)
	}
	if s.URL() != "" {
		t.Fatalf("URL before Start = %q", s.URL())
	}
	mustOK(t, s.Close(), "Close without Start")
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad cluster name", Config{Clusters: []ClusterConfig{{Name: "-demo"}}}, "name"},
		{"bad account", Config{Clusters: []ClusterConfig{{Name: "demo", Account: "12"}}}, "12-digit"},
		{"bad region", Config{Clusters: []ClusterConfig{{Name: "demo", Region: "mars"}}}, "region"},
		{"duplicate cluster", Config{Clusters: []ClusterConfig{{Name: "demo"}, {Name: "demo"}}}, "twice"},
		{"bad creator", Config{Clusters: []ClusterConfig{{Name: "demo", CreatorAdmin: "root"}}}, "creatorAdmin"},
		{"bad principal", Config{Principals: []string{"arn:aws:iam::111122223333:group/g"}}, "principals[0]"},
		{"bad default account", Config{DefaultAccount: "x"}, "defaultAccount"},
		{"fault rate above 1", Config{FaultRate: 1.5}, "fault rate"},
		{"negative rate", Config{RateLimit: -1}, "rate limit"},
		{"negative latency", Config{Latency: -time.Second}, "latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
