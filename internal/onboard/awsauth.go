package onboard

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// AWSAuth is the data of an aws-auth ConfigMap, and where it was read from.
type AWSAuth struct {
	// Data holds mapRoles, mapUsers and mapAccounts as YAML strings, as the
	// ConfigMap does.
	Data map[string]string
	// Origin is shown in the report: a file name, or the cluster context.
	Origin string
}

// ReadAWSAuthFile reads the aws-auth ConfigMap from a manifest file, as
// `kubectl -n kube-system get configmap aws-auth -o yaml` writes it (YAML or JSON,
// possibly among other documents). "-" reads standard input.
func ReadAWSAuthFile(path string) (AWSAuth, error) {
	if path == "-" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return AWSAuth{}, err
		}
		return ParseAWSAuth(data, "standard input")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return AWSAuth{}, err
	}
	return ParseAWSAuth(data, path)
}

// ParseAWSAuth finds the ConfigMap named aws-auth in a YAML or JSON stream.
func ParseAWSAuth(data []byte, origin string) (AWSAuth, error) {
	for _, doc := range splitDocuments(string(data)) {
		var head metav1.PartialObjectMetadata
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil || head.Kind != "ConfigMap" || head.Name != "aws-auth" {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			return AWSAuth{}, fmt.Errorf("%s: the aws-auth ConfigMap: %w", origin, err)
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		return AWSAuth{Data: cm.Data, Origin: origin}, nil
	}
	return AWSAuth{}, fmt.Errorf("%s holds no ConfigMap named aws-auth; save it with 'kubectl -n kube-system get configmap aws-auth -o yaml'", origin)
}

// splitDocuments splits a YAML stream at its "---" separator lines.
func splitDocuments(s string) []string {
	var docs []string
	var cur strings.Builder
	for line := range strings.Lines(s) {
		if t := strings.TrimRight(line, " \t\r\n"); t == "---" || strings.HasPrefix(t, "--- ") {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// ReadAWSAuthFromCluster reads kube-system/aws-auth through a kubeconfig: the
// given file and context, or kubectl's defaults ($KUBECONFIG, ~/.kube/config, the
// current context) for the ones left empty.
func ReadAWSAuthFromCluster(ctx context.Context, kubeconfig, kubeContext string) (AWSAuth, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return AWSAuth{}, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	raw, err := loader.RawConfig()
	if err != nil {
		return AWSAuth{}, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	name := kubeContext
	if name == "" {
		name = raw.CurrentContext
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return AWSAuth{}, err
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return AWSAuth{}, fmt.Errorf("the cluster of context %q has no ConfigMap kube-system/aws-auth: nothing to migrate", name)
	}
	if err != nil {
		return AWSAuth{}, fmt.Errorf("reading kube-system/aws-auth through context %q: %w", name, err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	return AWSAuth{Data: cm.Data, Origin: "kube-system/aws-auth in context " + name}, nil
}
