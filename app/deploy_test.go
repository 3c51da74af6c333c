package app

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/thinktank/catobot/config"
)

// deployDir holds the Kubernetes manifests and the IAM policy.
var deployDir = filepath.Join("..", "deploy")

// deployObjects decodes every manifest in deploy/ strictly (unknown fields
// are errors) into typed objects, by file name.
func deployObjects(t *testing.T) map[string]runtime.Object {
	t.Helper()
	strict := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	files, err := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	require.NoError(t, err)
	objs := map[string]runtime.Object{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		obj, _, err := strict.Decode(b, nil, nil)
		require.NoError(t, err, name)
		objs[name] = obj
	}
	return objs
}

func object[T runtime.Object](t *testing.T, objs map[string]runtime.Object, file string) T {
	t.Helper()
	o, ok := objs[file].(T)
	require.True(t, ok, "%s: got %T", file, objs[file])
	return o
}

func TestDeployManifests(t *testing.T) {
	objs := deployObjects(t)
	for name, o := range objs {
		acc, ok := o.(interface{ GetNamespace() string })
		require.True(t, ok, name)
		require.Equal(t, "cato", acc.GetNamespace(), name)
	}

	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(deployDir, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &kust))
	require.Equal(t, "cato", kust.Namespace)
	require.ElementsMatch(t, slices.Collect(mapsKeys(objs)), kust.Resources, "kustomization lists every manifest")

	sa := object[*corev1.ServiceAccount](t, objs, "serviceaccount.yaml")
	require.Contains(t, sa.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::")

	binding := object[*rbacv1.RoleBinding](t, objs, "rolebinding.yaml")
	role := object[*rbacv1.Role](t, objs, "role.yaml")
	require.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}, binding.RoleRef)
	require.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: "cato"}}, binding.Subjects)

	d := object[*appsv1.Deployment](t, objs, "deployment.yaml")
	require.Equal(t, int32(2), *d.Spec.Replicas)
	pod := d.Spec.Template.Spec
	require.Equal(t, sa.Name, pod.ServiceAccountName)
	require.True(t, *pod.SecurityContext.RunAsNonRoot)
	require.Equal(t, int64(65532), *pod.SecurityContext.RunAsUser, "the image's nonroot user")
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		c.Ports)
	require.False(t, c.Resources.Requests.Cpu().IsZero())
	require.False(t, c.Resources.Limits.Memory().IsZero())

	// Every secret comes from catobot-secrets under its own name, and each
	// is a variable ReadEnv reads.
	read := map[string]bool{}
	_, _ = ReadEnv(func(k string) string { read[k] = true; return "" })
	var secrets []string
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		require.Equal(t, "catobot-secrets", ref.Name, e.Name)
		require.Equal(t, e.Name, ref.Key)
		require.True(t, read[e.Name], "%s is not read by ReadEnv", e.Name)
		secrets = append(secrets, e.Name)
	}
	require.ElementsMatch(t, []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "PAGERDUTY_TOKEN",
		"PAGERDUTY_WEBHOOK_SECRET", "PAGERDUTY_ROUTING_KEY"}, secrets)

	// The config the pod reads is valid, with a shared ledger.
	cm := object[*corev1.ConfigMap](t, objs, "configmap.yaml")
	require.Equal(t, cm.Name, pod.Volumes[0].ConfigMap.Name)
	path := filepath.Join(t.TempDir(), "catobot.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cm.Data["catobot.yaml"]), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(cfg.Ledger.URL, "valkey://"), cfg.Ledger.URL)
	require.Contains(t, c.Args, "/etc/catobot/catobot.yaml")

	svc := object[*corev1.Service](t, objs, "service.yaml")
	require.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
	require.Equal(t, int32(8080), svc.Spec.Ports[0].Port)
	require.Equal(t, intstr.FromString("http"), svc.Spec.Ports[0].TargetPort)

	pdb := object[*policyv1.PodDisruptionBudget](t, objs, "poddisruptionbudget.yaml")
	require.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)
	require.Equal(t, intstr.FromInt32(1), *pdb.Spec.MinAvailable)
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestDeployRoleGrantsExactlyWhatTheBotUses compares the Role with the
// accesses Check asks about, which list what the Ray Serve action and the
// lease call.
func TestDeployRoleGrantsExactlyWhatTheBotUses(t *testing.T) {
	role := object[*rbacv1.Role](t, deployObjects(t), "role.yaml")
	var got []string
	for _, r := range role.Rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					for _, n := range names {
						got = append(got, g+"|"+v+" "+res+"|"+n)
					}
				}
			}
		}
	}
	ray := config.Default().Components.Ray
	var want []string
	for _, a := range kubeAccesses(ray.Deployment, ray.HPA) {
		want = append(want, a.Group+"|"+a.String()+"|"+a.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("role rules (-got +want):\n%s", d)
	}
}

// iamPrefix maps each AWS SDK service package to its IAM action prefix.
var iamPrefix = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/sagemaker":            "sagemaker",
	"github.com/aws/aws-sdk-go-v2/service/elasticache":          "elasticache",
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":             "dynamodb",
	"github.com/aws/aws-sdk-go-v2/service/opensearchserverless": "aoss",
	"github.com/aws/aws-sdk-go-v2/service/sts":                  "sts",
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch":           "cloudwatch",
	"github.com/aws/aws-sdk-go-v2/service/computeoptimizer":     "compute-optimizer",
}

// sdkOperations finds the AWS operations the product code calls: every
// <service>.<Operation>Input it names, outside tests and fakes.
func sdkOperations(t *testing.T) []string {
	t.Helper()
	found := map[string]bool{}
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "fakes", "testdata", "tools", "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		alias := map[string]string{} // local name → IAM prefix
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") || strings.Contains(p, "/types") {
				continue
			}
			prefix, ok := iamPrefix[p]
			require.True(t, ok, "%s imports %s: add its IAM prefix here and its actions to iam-policy.json", path, p)
			name := p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			alias[name] = prefix
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok || alias[id.Name] == "" || !strings.HasSuffix(sel.Sel.Name, "Input") {
				return true
			}
			found[alias[id.Name]+":"+strings.TrimSuffix(sel.Sel.Name, "Input")] = true
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return slices.Sorted(mapsKeys(found))
}

type iamPolicy struct {
	Version   string
	Statement []struct {
		Sid      string
		Effect   string
		Action   []string
		Resource json.RawMessage
	}
}

// TestIAMPolicyListsExactlyTheCalledActions keeps deploy/iam-policy.json
// equal to the AWS operations the code calls, each on the runbook's
// resources where the service has resource-level permissions.
func TestIAMPolicyListsExactlyTheCalledActions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "iam-policy.json"))
	require.NoError(t, err)
	var p iamPolicy
	require.NoError(t, json.Unmarshal(b, &p))
	require.Equal(t, "2012-10-17", p.Version)

	// Services whose actions take no resource ARN.
	global := map[string]bool{"aoss": true, "sts": true, "cloudwatch": true, "compute-optimizer": true}
	var listed []string
	for _, s := range p.Statement {
		require.Equal(t, "Allow", s.Effect, s.Sid)
		var resources []string
		if err := json.Unmarshal(s.Resource, &resources); err != nil {
			var one string
			require.NoError(t, json.Unmarshal(s.Resource, &one), s.Sid)
			resources = []string{one}
		}
		for _, a := range s.Action {
			require.NotContains(t, a, "*", "no wildcard actions")
			service := a[:strings.Index(a, ":")]
			for _, r := range resources {
				if global[service] {
					require.Equal(t, "*", r, a)
					continue
				}
				require.True(t, strings.HasPrefix(r, "arn:aws:"+service+":REGION:ACCOUNT_ID:"), "%s on %s", a, r)
			}
			listed = append(listed, a)
		}
	}
	slices.Sort(listed)
	called := sdkOperations(t)
	require.Contains(t, called, "sagemaker:UpdateEndpointWeightsAndCapacities", "the scan finds the actions")
	if d := cmp.Diff(listed, called); d != "" {
		t.Errorf("iam-policy.json actions (-got +want):\n%s", d)
	}
}
