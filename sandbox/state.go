package sandbox

import (
	"fmt"
	"sort"
	"strings"
)

// State is what the simulated systems hold: seeded at a scenario's start,
// and checked by its state steps. In a check, only the fields given are
// compared.
type State struct {
	SageMaker   map[string]EndpointState   `yaml:"sagemaker,omitempty"`
	Deployments map[string]DeploymentState `yaml:"deployments,omitempty"`
	HPAs        map[string]HPAState        `yaml:"hpas,omitempty"`
	ElastiCache map[string]CacheState      `yaml:"elasticache,omitempty"`
	DynamoDB    map[string]TableState      `yaml:"dynamodb,omitempty"`
	OpenSearch  *OpenSearchState           `yaml:"opensearch,omitempty"`
	// Metrics are CloudWatch values /cato status reads.
	Metrics []MetricState `yaml:"metrics,omitempty"`
}

// CacheState is one ElastiCache replication group.
type CacheState struct {
	NodeType string `yaml:"node_type,omitempty"`
	Replicas *int   `yaml:"replicas,omitempty"`
	Status   string `yaml:"status,omitempty"`
}

// TableState is one DynamoDB table.
type TableState struct {
	Read    *int64 `yaml:"read,omitempty"`
	Write   *int64 `yaml:"write,omitempty"`
	Billing string `yaml:"billing,omitempty"` // PROVISIONED or PAY_PER_REQUEST
	Status  string `yaml:"status,omitempty"`
}

// OpenSearchState is the account's OpenSearch Serverless capacity limits.
type OpenSearchState struct {
	Indexing *int32 `yaml:"indexing,omitempty"`
	Search   *int32 `yaml:"search,omitempty"`
}

// MetricState is one CloudWatch metric's latest value.
type MetricState struct {
	Namespace  string            `yaml:"namespace"`
	Metric     string            `yaml:"metric"`
	Dimensions map[string]string `yaml:"dimensions,omitempty"`
	Value      float64           `yaml:"value"`
}

// EndpointState is one SageMaker endpoint variant.
type EndpointState struct {
	Variant   string `yaml:"variant,omitempty"`
	Instances *int32 `yaml:"instances,omitempty"`
	Status    string `yaml:"status,omitempty"`
}

// DeploymentState is one Kubernetes deployment, keyed "namespace/name".
type DeploymentState struct {
	Replicas *int32 `yaml:"replicas,omitempty"`
	Ready    *int32 `yaml:"ready,omitempty"`
	Image    string `yaml:"image,omitempty"`
}

// HPAState is one HorizontalPodAutoscaler, keyed "namespace/name".
type HPAState struct {
	Min *int32 `yaml:"min,omitempty"`
	Max *int32 `yaml:"max,omitempty"`
}

func splitKey(key string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(key, "/")
	if !ok || ns == "" || name == "" {
		return "", "", fmt.Errorf("%q must be namespace/name", key)
	}
	return ns, name, nil
}

func val(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
