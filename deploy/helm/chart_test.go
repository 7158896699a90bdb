// Package helm_test checks the chart in deploy/helm/berth: it lints and
// renders it with the real helm binary for the default, HA and OIDC value
// sets and decodes every rendered object strictly into its k8s.io/api type,
// so a misspelt or misplaced field fails here rather than at install time.
package helm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/testtool"
)

// chartDir is deploy/helm/berth, found from this file.
func chartDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "berth")
}

func repoRoot() string {
	return filepath.Clean(filepath.Join(chartDir(), "..", "..", ".."))
}

// The value sets the issue names: defaults (try-it), HA and OIDC.
var (
	haValues   = filepath.Join(chartDir(), "values-ha.yaml")
	oidcValues = filepath.Join(chartDir(), "..", "testdata", "values-oidc.yaml")
)

// helmBinary returns helm from .tools/bin or PATH. A missing helm skips
// the test, unless BERTH_TEST_REQUIRE_SERVICES=1 (as in test/e2e).
func helmBinary(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "helm")
}

// helm runs helm with a private home so no user repository or registry
// login leaks in.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_DATA_HOME="+filepath.Join(home, ".local"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// manifest is one rendered chart: its objects by "Kind/name".
type manifest map[string]any

// render runs `helm template` on chart with the given flags and decodes
// every object strictly; any unknown field or unknown kind fails the test.
func render(t *testing.T, chart string, flags ...string) manifest {
	t.Helper()
	out, err := helm(t, append([]string{"template", "berth", chart, "--namespace", "registry"}, flags...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func decodeAll(t *testing.T, out string) manifest {
	t.Helper()
	m := manifest{}
	for _, doc := range docSeparator.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, key, err := decodeStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if _, dup := m[key]; dup {
			t.Fatalf("%s is rendered twice", key)
		}
		m[key] = obj
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// kinds maps apiVersion/kind to the type the object must decode into.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/PersistentVolumeClaim":                func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &serviceMonitor{} },
}

// serviceMonitor is the part of prometheus-operator's CRD the chart uses;
// a field outside it fails decoding like an unknown field of a core type.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel  string               `json:"jobLabel,omitempty"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port              string          `json:"port"`
			Path              string          `json:"path,omitempty"`
			Interval          string          `json:"interval,omitempty"`
			MetricRelabelings []relabelConfig `json:"metricRelabelings,omitempty"`
			Relabelings       []relabelConfig `json:"relabelings,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type relabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    string   `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// decodeStrict converts one YAML document to JSON and decodes it into the
// k8s.io/api type of its apiVersion and kind, refusing unknown fields.
func decodeStrict(doc []byte) (obj any, key string, err error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, "", fmt.Errorf("not YAML: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, "", err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, "", fmt.Errorf("unexpected object %s %s: add its type to kinds", tm.APIVersion, tm.Kind)
	}
	obj = newObj()
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, "", fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if dec.More() {
		return nil, "", fmt.Errorf("%s: trailing data after the object", tm.Kind)
	}
	name := obj.(metav1.Object).GetName()
	return obj, tm.Kind + "/" + name, nil
}

// get returns the object kind/name of type T, failing when it is absent.
func get[T any](t *testing.T, m manifest, key string) T {
	t.Helper()
	obj, ok := m[key]
	if !ok {
		t.Fatalf("%s not rendered; have %v", key, m.keys())
	}
	return obj.(T)
}

func (m manifest) keys() []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (m manifest) has(key string) bool { _, ok := m[key]; return ok }

// container is the berth container of the Deployment.
func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"misplaced field":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 3}\n",
		"unknown kind":     "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"duplicate key":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {A: a, A: b}\n",
		"number as string": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {PORT: 5432}\n",
	} {
		if _, _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// Value combinations beyond the three sets render objects that decode
// strictly too.
func TestOtherValueCombinationsDecodeStrictly(t *testing.T) {
	for name, flags := range map[string][]string{
		"no persistence":       {"--set", "persistence.enabled=false"},
		"no dynamic provision": {"--set", "persistence.persistentVolumeClaim.registry.storageClass=-"},
		"tls off":              {"--set", "expose.tls.enabled=false", "--set", "externalURL=http://berth.example.com"},
		"controller cert":      {"--set", "expose.tls.certSource=none"},
		"inline HA": {"--set", "replicas=3", "--set", "database.type=external", "--set", "redis.type=external",
			"--set", "redis.external.tls=true", "--set", "persistence.enabled=false", "--set", "persistence.imageChartStorage.type=s3",
			"--set", "persistence.imageChartStorage.s3.bucket=b", "--set", "persistence.imageChartStorage.s3.accesskey=a",
			"--set", "persistence.imageChartStorage.s3.secretkey=s", "--set", "autoscaling.targetMemoryUtilizationPercentage=80"},
		"RWX claim, two replicas": {"--set", "replicas=2", "--set", "database.type=external", "--set", "redis.type=external",
			"--set", "persistence.persistentVolumeClaim.registry.accessMode=ReadWriteMany"},
		"open network policy": {"--set", "networkPolicy.enabled=true", "--set", "metrics.enabled=true"},
		"vulnerability database from URLs": {"--set", "scanning.vulndbURLs[0]=https://osv.example/Debian/all.zip",
			"--set", "scanning.vulndbURLs[1]=https://osv.example/Alpine/all.zip", "--set", "scanning.vulndbRefresh=6h",
			"--set", "scanning.sbomCycloneDX=true"},
		"no service account": {"--set", "serviceAccount.create=false", "--set", "podDisruptionBudget.enabled=false"},
		"scheduling": {"--set", "nodeSelector.disk=ssd", "--set", "tolerations[0].key=dedicated", "--set", "tolerations[0].operator=Exists",
			"--set", "podAnnotations.a=b", "--set", "podLabels.team=platform", "--set", "priorityClassName=high",
			"--set", "imagePullSecrets[0].name=pull", "--set", "extraEnvVars[0].name=TZ", "--set", "extraEnvVars[0].value=UTC"},
	} {
		t.Run(name, func(t *testing.T) {
			m := render(t, chartDir(), flags...)
			get[*appsv1.Deployment](t, m, "Deployment/berth")
		})
	}
}

func TestLintPassesForDefaultHAAndOIDCValues(t *testing.T) {
	for name, flags := range map[string][]string{
		"default": nil,
		"ha":      {"-f", haValues},
		"oidc":    {"-f", oidcValues},
	} {
		t.Run(name, func(t *testing.T) {
			// --strict turns warnings into errors; the one INFO line left
			// is that Chart.yaml has no icon.
			out, err := helm(t, append([]string{"lint", "--strict", chartDir()}, flags...)...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "[ERROR]") || strings.Contains(out, "[WARNING]") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

func TestDefaultValuesRunOneReplicaOnSQLiteWithAClaim(t *testing.T) {
	m := render(t, chartDir())
	d := get[*appsv1.Deployment](t, m, "Deployment/berth")
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1", *d.Spec.Replicas)
	}
	// Two pods must never hold the SQLite file (or a ReadWriteOnce claim) at once.
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %s, want Recreate", d.Spec.Strategy.Type)
	}
	c := container(t, d)
	if c.Image != "ghcr.io/berth-registry/berth:"+appVersion(t) {
		t.Errorf("image = %s, want the chart's appVersion", c.Image)
	}
	checkPodHardening(t, d)

	pvc := get[*corev1.PersistentVolumeClaim](t, m, "PersistentVolumeClaim/berth-data")
	if got := pvc.Spec.Resources.Requests.Storage().String(); got != "5Gi" {
		t.Errorf("claim size = %s, want 5Gi", got)
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("claim is not kept on uninstall: %v", pvc.Annotations)
	}
	if v := volume(t, d, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "berth-data" {
		t.Errorf("data volume = %+v, want the claim", v.VolumeSource)
	}

	cm := get[*corev1.ConfigMap](t, m, "ConfigMap/berth")
	for k, want := range map[string]string{"BERTH_ADDR": ":8080", "BERTH_DATA_DIR": "/data", "BERTH_EXTERNAL_URL": "https://berth.example.com", "BERTH_AUTH_MODE": "db", "BERTH_STORAGE_SENDFILE": "auto"} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	sec := get[*corev1.Secret](t, m, "Secret/berth")
	if len(sec.StringData["BERTH_ADMIN_PASSWORD"]) < 16 || len(sec.StringData["BERTH_SECRET_KEY"]) < 32 {
		t.Errorf("generated admin password or secret key too short: %v", sec.StringData)
	}
	if _, ok := sec.StringData["BERTH_DATABASE_URL"]; ok {
		t.Errorf("SQLite install sets BERTH_DATABASE_URL")
	}
	checkEnvFrom(t, d, "berth", "berth")

	ing := get[*networkingv1.Ingress](t, m, "Ingress/berth")
	checkNginxAnnotations(t, ing)
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "berth-ingress-tls" || ing.Spec.TLS[0].Hosts[0] != "berth.example.com" {
		t.Errorf("ingress TLS = %+v", ing.Spec.TLS)
	}
	tls := get[*corev1.Secret](t, m, "Secret/berth-ingress-tls")
	if tls.Type != corev1.SecretTypeTLS || len(tls.Data["tls.crt"]) == 0 || len(tls.Data["tls.key"]) == 0 {
		t.Errorf("generated TLS Secret = %s with %d keys", tls.Type, len(tls.Data))
	}
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if backend.Name != "berth" || backend.Port.Name != "http" {
		t.Errorf("ingress backend = %+v", backend)
	}
	if svc := get[*corev1.Service](t, m, "Service/berth"); svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("service type = %s behind an ingress", svc.Spec.Type)
	}
	sa := get[*corev1.ServiceAccount](t, m, "ServiceAccount/berth")
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("service account mounts an API token berth never uses")
	}
	if pdb := get[*policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget/berth"); pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB = %+v, want maxUnavailable 1 (never blocks a drain of one replica)", pdb.Spec)
	}
	for _, absent := range []string{"HorizontalPodAutoscaler/berth", "ServiceMonitor/berth", "NetworkPolicy/berth"} {
		if m.has(absent) {
			t.Errorf("%s rendered by default", absent)
		}
	}
}

func TestHAValuesRunThreeReplicasOnPostgresRedisAndS3(t *testing.T) {
	m := render(t, chartDir(), "-f", haValues)
	d := get[*appsv1.Deployment](t, m, "Deployment/berth")
	// The HPA owns the replica count; it starts at three.
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d while the HPA scales it", *d.Spec.Replicas)
	}
	hpa := get[*autoscalingv2.HorizontalPodAutoscaler](t, m, "HorizontalPodAutoscaler/berth")
	if *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 10 || hpa.Spec.ScaleTargetRef.Name != "berth" {
		t.Errorf("HPA = %+v", hpa.Spec)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy = %s, want RollingUpdate", d.Spec.Strategy.Type)
	}
	checkPodHardening(t, d)
	// Every secret comes from the user's Secret; the chart writes none.
	checkEnvFrom(t, d, "berth", "berth-secrets")
	if m.has("Secret/berth") {
		t.Errorf("the chart writes its own Secret although existingSecret is set")
	}
	if m.has("PersistentVolumeClaim/berth-data") {
		t.Errorf("HA install claims a volume")
	}
	if v := volume(t, d, "data"); v.EmptyDir == nil {
		t.Errorf("data volume = %+v, want an emptyDir", v.VolumeSource)
	}
	cm := get[*corev1.ConfigMap](t, m, "ConfigMap/berth")
	for k, want := range map[string]string{"BERTH_STORAGE_DRIVER": "s3", "BERTH_S3_BUCKET": "berth-blobs", "BERTH_S3_REGION": "eu-central-1", "BERTH_S3_PREFIX": "registry", "BERTH_STORAGE_REDIRECT": "true"} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	if pdb := get[*policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget/berth"); pdb.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("PDB = %+v, want minAvailable 2", pdb.Spec)
	}
	ing := get[*networkingv1.Ingress](t, m, "Ingress/berth")
	checkNginxAnnotations(t, ing)
	if ing.Spec.TLS[0].SecretName != "berth-tls" || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("ingress = %+v", ing.Spec)
	}
	if m.has("Secret/berth-ingress-tls") {
		t.Errorf("a self-signed certificate is generated although certSource is secret")
	}
	sm := get[*serviceMonitor](t, m, "ServiceMonitor/berth")
	if sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v", sm.Spec.Endpoints)
	}
	svc := get[*corev1.Service](t, m, "Service/berth")
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[1].Name != "metrics" || svc.Spec.Ports[1].Port != 8001 {
		t.Errorf("service ports = %+v, want http and metrics", svc.Spec.Ports)
	}
	np := get[*networkingv1.NetworkPolicy](t, m, "NetworkPolicy/berth")
	if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[0].Ports[0].Port.StrVal != "http" ||
		np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" {
		t.Errorf("network policy = %+v", np.Spec)
	}
}

func TestOIDCValuesOnALoadBalancerWithAFixedIP(t *testing.T) {
	m := render(t, chartDir(), "-f", oidcValues)
	svc := get[*corev1.Service](t, m, "Service/berth")
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerIP != "192.168.10.50" ||
		!slices.Equal(svc.Spec.LoadBalancerSourceRanges, []string{"192.168.10.0/24"}) || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("service = %+v", svc.Spec)
	}
	if m.has("Ingress/berth") {
		t.Errorf("an Ingress is rendered with expose.type=loadBalancer")
	}
	pvc := get[*corev1.PersistentVolumeClaim](t, m, "PersistentVolumeClaim/berth-data")
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "openebs-hostpath" || pvc.Spec.Resources.Requests.Storage().String() != "20Gi" {
		t.Errorf("claim = %+v", pvc.Spec)
	}
	cm := get[*corev1.ConfigMap](t, m, "ConfigMap/berth")
	for k, want := range map[string]string{
		"BERTH_AUTH_MODE": "oidc", "BERTH_OIDC_ISSUER": "https://sso.example.com/realms/berth", "BERTH_OIDC_CLIENT_ID": "berth",
		"BERTH_OIDC_GROUPS_CLAIM": "groups", "BERTH_OIDC_ADMIN_GROUP": "berth-admins", "BERTH_OIDC_PROVIDER_NAME": "Example SSO",
		"BERTH_EXTERNAL_URL": "http://192.168.10.50", "BERTH_GC_GRACE_PERIOD": "30m",
	} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	if _, ok := cm.Data["BERTH_OIDC_CLIENT_SECRET"]; ok {
		t.Errorf("the OIDC client secret is in the ConfigMap")
	}
	sec := get[*corev1.Secret](t, m, "Secret/berth")
	if sec.StringData["BERTH_OIDC_CLIENT_SECRET"] != "oidc-client-secret" || sec.StringData["BERTH_ADMIN_PASSWORD"] != "Berth-Admin-12345" {
		t.Errorf("secret = %v", sec.StringData)
	}
	// The password holds '@', ' ' and '/': the URL must still parse to it.
	db, err := url.Parse(sec.StringData["BERTH_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := db.User.Password(); pw != "p@ss word/1" || db.User.Username() != "berth" || db.Host != "postgres.db.svc:5432" ||
		db.Path != "/berth" || db.Query().Get("sslmode") != "require" {
		t.Errorf("database URL %s does not say what the values say", sec.StringData["BERTH_DATABASE_URL"])
	}
	if got := sec.StringData["BERTH_REDIS_URL"]; got != "redis://:r3dis@redis.cache.svc:6379/2" {
		t.Errorf("redis URL = %s", got)
	}
	checkEnvFrom(t, get[*appsv1.Deployment](t, m, "Deployment/berth"), "berth", "berth")
}

func TestExposeTypesMakeTheServiceHarborsChartWould(t *testing.T) {
	for _, tc := range []struct {
		expose   string
		flags    []string
		svcName  string
		wantType corev1.ServiceType
		port     int32
		nodePort int32
	}{
		{"ingress", nil, "berth", corev1.ServiceTypeClusterIP, 80, 0},
		{"clusterIP", []string{"--set", "expose.clusterIP.name=registry", "--set", "expose.clusterIP.ports.httpPort=8080"}, "registry", corev1.ServiceTypeClusterIP, 8080, 0},
		{"nodePort", nil, "berth", corev1.ServiceTypeNodePort, 80, 30002},
		{"loadBalancer", []string{"--set", "expose.loadBalancer.IP=10.0.0.9"}, "berth", corev1.ServiceTypeLoadBalancer, 80, 0},
	} {
		t.Run(tc.expose, func(t *testing.T) {
			m := render(t, chartDir(), append([]string{"--set", "expose.type=" + tc.expose}, tc.flags...)...)
			svc := get[*corev1.Service](t, m, "Service/"+tc.svcName)
			p := svc.Spec.Ports[0]
			if svc.Spec.Type != tc.wantType || p.Port != tc.port || p.NodePort != tc.nodePort || p.TargetPort.StrVal != "http" {
				t.Errorf("service = %s %+v", svc.Spec.Type, p)
			}
			if m.has("Ingress/berth") != (tc.expose == "ingress") {
				t.Errorf("Ingress rendered = %v with expose.type=%s", m.has("Ingress/berth"), tc.expose)
			}
		})
	}
}

func TestExistingSecretAndClaimAreReferencedByName(t *testing.T) {
	m := render(t, chartDir(), "--set", "existingSecret=mine", "--set", "persistence.persistentVolumeClaim.registry.existingClaim=old-data",
		"--set", "persistence.persistentVolumeClaim.registry.subPath=berth", "--set", "metrics.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
	d := get[*appsv1.Deployment](t, m, "Deployment/berth")
	checkEnvFrom(t, d, "berth", "mine")
	if m.has("Secret/berth") || m.has("PersistentVolumeClaim/berth-data") {
		t.Errorf("chart creates what the user gave: %v", m.keys())
	}
	if v := volume(t, d, "data"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "old-data" {
		t.Errorf("data volume = %+v", v.VolumeSource)
	}
	if mnt := container(t, d).VolumeMounts[0]; mnt.SubPath != "berth" {
		t.Errorf("data mount = %+v", mnt)
	}
	if _, ok := d.Spec.Template.Annotations["checksum/secret"]; ok {
		t.Errorf("pods checksum a Secret the chart does not render")
	}
}

// The Secret's keys are exactly the ones values.yaml documents for
// existingSecret, and every variable the chart sets is one berth reads.
func TestEveryVariableIsABerthSettingAndSecretKeysAreDocumented(t *testing.T) {
	m := render(t, chartDir(), "-f", oidcValues, "--set", "persistence.imageChartStorage.type=s3",
		"--set", "persistence.imageChartStorage.s3.bucket=b", "--set", "persistence.imageChartStorage.s3.accesskey=ak",
		"--set", "persistence.imageChartStorage.s3.secretkey=sk", "--set", "persistence.imageChartStorage.s3.regionendpoint=http://minio:9000",
		"--set", "persistence.imageChartStorage.s3.rootdirectory=p", "--set", "trustedProxies=10.0.0.0/8")
	known := map[string]bool{}
	for _, s := range config.Settings {
		known[s.Env] = true
	}
	for _, env := range []string{"BERTH_STORAGE_DRIVER", "BERTH_S3_ENDPOINT", "BERTH_S3_REGION", "BERTH_S3_BUCKET", "BERTH_S3_PREFIX",
		"BERTH_S3_ACCESS_KEY", "BERTH_S3_SECRET_KEY", "BERTH_S3_PATH_STYLE", "BERTH_STORAGE_REDIRECT"} {
		known[env] = true
	}
	cm := get[*corev1.ConfigMap](t, m, "ConfigMap/berth")
	sec := get[*corev1.Secret](t, m, "Secret/berth")
	var secretKeys []string
	for k := range sec.StringData {
		secretKeys = append(secretKeys, k)
		if _, dup := cm.Data[k]; dup {
			t.Errorf("%s is in both the ConfigMap and the Secret", k)
		}
	}
	for k := range cm.Data {
		if !known[k] {
			t.Errorf("ConfigMap sets %s, which berth does not read", k)
		}
	}
	for _, k := range secretKeys {
		if !known[k] {
			t.Errorf("Secret sets %s, which berth does not read", k)
		}
	}
	values, err := os.ReadFile(filepath.Join(chartDir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile(`(?m)^#\s+(BERTH_[A-Z0-9_]+)\s`).FindAllStringSubmatch(string(values), -1)
	var docKeys []string
	for _, d := range documented {
		docKeys = append(docKeys, d[1])
	}
	sort.Strings(secretKeys)
	sort.Strings(docKeys)
	if !slices.Equal(secretKeys, docKeys) {
		t.Errorf("Secret keys %v, values.yaml documents %v for existingSecret", secretKeys, docKeys)
	}
}

// berth itself accepts what the chart sets: the ConfigMap and Secret of
// each value set go through berth's own configuration loader, which is
// what stops `berth serve` with exit code 2 on a bad value.
func TestRenderedSettingsPassBerthsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		// userSecret stands for the Secret named in existingSecret.
		userSecret map[string]string
	}{
		{"default", nil, nil},
		{"ha", []string{"-f", haValues}, map[string]string{
			"BERTH_DATABASE_URL": "postgres://berth:pw@postgres.db:5432/berth?sslmode=require", "BERTH_REDIS_URL": "redis://:pw@redis.cache:6379/0",
			"BERTH_S3_ACCESS_KEY": "AKIAEXAMPLE", "BERTH_S3_SECRET_KEY": "secret", "BERTH_SECRET_KEY": "WWmcbP5hxiwqwdl9Ss5vEJWywxHAzkhkTSUdCW3V+00=",
		}},
		{"oidc", []string{"-f", oidcValues}, nil},
		{"minio", []string{"--set", "persistence.imageChartStorage.type=s3", "--set", "persistence.imageChartStorage.s3.bucket=berth",
			"--set", "persistence.imageChartStorage.s3.regionendpoint=http://minio.minio:9000", "--set", "persistence.imageChartStorage.s3.forcepathstyle=true",
			"--set", "persistence.imageChartStorage.s3.accesskey=minio", "--set", "persistence.imageChartStorage.s3.secretkey=minio123"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, chartDir(), tc.flags...)
			env := map[string]string{}
			for k, v := range get[*corev1.ConfigMap](t, m, "ConfigMap/berth").Data {
				env[k] = v
			}
			if tc.userSecret != nil {
				maps.Copy(env, tc.userSecret)
			} else {
				maps.Copy(env, get[*corev1.Secret](t, m, "Secret/berth").StringData)
			}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			config.AddFlags(fs)
			c, err := config.Load(fs, func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("berth refuses the chart's settings: %v", err)
			}
			// What `berth serve` checks on top: a secret key on PostgreSQL.
			if err := c.RequireSecretKey(); err != nil {
				t.Fatalf("berth serve refuses the chart's settings: %v", err)
			}
			if c.Addr != ":8080" || c.DataDir != "/data" || c.MetricsAddr != ":8001" {
				t.Errorf("addr %q, data dir %q, metrics %q", c.Addr, c.DataDir, c.MetricsAddr)
			}
		})
	}
}

func TestInvalidValuesFailWithALineSayingWhatToChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"replicas on SQLite", []string{"--set", "replicas=3"}, "database.type=external"},
		{"replicas without Redis", []string{"--set", "replicas=3", "--set", "database.type=external"}, "redis.type=external"},
		{"replicas on one RWO claim", []string{"--set", "replicas=3", "--set", "database.type=external", "--set", "redis.type=external"}, "shared blob storage"},
		{"unknown expose type", []string{"--set", "expose.type=route"}, `expose.type "route"`},
		{"oidc without issuer", []string{"--set", "auth.mode=oidc"}, "auth.oidc.issuer"},
		{"s3 without bucket", []string{"--set", "persistence.imageChartStorage.type=s3"}, "s3.bucket"},
		{"secret in the ConfigMap", []string{"--set", "extraConfig.BERTH_DATABASE_URL=postgres://x"}, "is a secret"},
		{"relative externalURL", []string{"--set", "externalURL=berth.local"}, "externalURL"},
		{"secretKey not 32 bytes", []string{"--set", "secretKey=change-me"}, "openssl rand -base64 32"},
		{"TLS secret without a name", []string{"--set", "expose.tls.certSource=secret"}, "expose.tls.secret.secretName"},
		{"ServiceMonitor without metrics", []string{"--set", "metrics.serviceMonitor.enabled=true"}, "metrics.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helm(t, append([]string{"template", "berth", chartDir()}, tc.flags...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// NOTES.txt is not part of `helm template` output; a copy of the chart
// renders it into a ConfigMap so its text can be checked.
func TestNotesPrintLoginCommandsForTheConfiguredHost(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "berth")
	if err := os.CopyFS(chart, os.DirFS(chartDir())); err != nil {
		t.Fatal(err)
	}
	probe := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  NOTES.txt: |\n{{ include \"berth/templates/NOTES.txt\" . | indent 4 }}\n"
	if err := os.WriteFile(filepath.Join(chart, "templates", "zz-notes.yaml"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		flags   []string
		want    []string
		wantNot []string
	}{
		{"default", nil, []string{
			"docker login berth.example.com -u admin",
			"helm registry login berth.example.com -u admin\n",
			"helm push mychart-0.1.0.tgz oci://berth.example.com/library\n",
			"jsonpath='{.data.BERTH_ADMIN_PASSWORD}'",
		}, []string{"--insecure", "--plain-http"}},
		{"ha", []string{"-f", haValues}, []string{
			"docker login registry.example.com",
			"helm registry login registry.example.com",
			"get secret berth-secrets",
		}, nil},
		{"oidc on plain http", []string{"-f", oidcValues}, []string{
			"docker login 192.168.10.50 -u admin",
			"helm registry login 192.168.10.50 -u admin --insecure",
			"oci://192.168.10.50/library --plain-http",
			`add "192.168.10.50" to "insecure-registries"`,
		}, []string{"BERTH_ADMIN_PASSWORD"}},
		{"nodePort with a port", []string{"--set", "expose.type=nodePort", "--set", "externalURL=http://10.1.2.3:30002"}, []string{
			"docker login 10.1.2.3:30002", "helm registry login 10.1.2.3:30002 -u admin --insecure",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, chart, append([]string{"--show-only", "templates/zz-notes.yaml"}, tc.flags...)...)
			notes := get[*corev1.ConfigMap](t, m, "ConfigMap/notes").Data["NOTES.txt"]
			for _, w := range tc.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES.txt lacks %q:\n%s", w, notes)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(notes, w) {
					t.Errorf("NOTES.txt has %q:\n%s", w, notes)
				}
			}
		})
	}
}

// checkPodHardening checks the probes and that berth runs as a non-root
// user on a read-only root filesystem with /data and /tmp writable.
func checkPodHardening(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	c := container(t, d)
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.StrVal != "http" {
		t.Errorf("liveness probe = %+v, want GET /healthz", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.StrVal != "http" {
		t.Errorf("readiness probe = %+v, want GET /readyz", p)
	}
	if c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports = %+v", c.Ports)
	}
	sc, psc := c.SecurityContext, d.Spec.Template.Spec.SecurityContext
	if sc == nil || psc == nil {
		t.Fatal("no security context")
	}
	if !*sc.RunAsNonRoot || *sc.RunAsUser != 65532 || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context = %+v", sc)
	}
	if !*psc.RunAsNonRoot || *psc.FSGroup != 65532 || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v", psc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/data"] != "data" || mounts["/tmp"] != "tmp" {
		t.Errorf("mounts = %v, want data at /data and tmp at /tmp", mounts)
	}
	if v := volume(t, d, "tmp"); v.EmptyDir == nil {
		t.Errorf("tmp volume = %+v, want an emptyDir", v.VolumeSource)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v", c.Resources)
	}
}

// checkEnvFrom checks that all of berth's settings come from the ConfigMap
// and the Secret named.
func checkEnvFrom(t *testing.T, d *appsv1.Deployment, configMap, secret string) {
	t.Helper()
	ef := container(t, d).EnvFrom
	if len(ef) != 2 || ef[0].ConfigMapRef == nil || ef[0].ConfigMapRef.Name != configMap || ef[1].SecretRef == nil || ef[1].SecretRef.Name != secret {
		t.Errorf("envFrom = %+v, want ConfigMap %s and Secret %s", ef, configMap, secret)
	}
}

// checkNginxAnnotations checks the annotations that let ingress-nginx
// pass multi-gigabyte layers: no body limit, long timeouts, streaming.
func checkNginxAnnotations(t *testing.T, ing *networkingv1.Ingress) {
	t.Helper()
	for k, want := range map[string]string{
		"nginx.ingress.kubernetes.io/proxy-body-size":         "0",
		"nginx.ingress.kubernetes.io/proxy-read-timeout":      "900",
		"nginx.ingress.kubernetes.io/proxy-send-timeout":      "900",
		"nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
	} {
		if ing.Annotations[k] != want {
			t.Errorf("ingress annotation %s = %q, want %q", k, ing.Annotations[k], want)
		}
	}
}

func volume(t *testing.T, d *appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s", name)
	return corev1.Volume{}
}

func appVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir(), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}

// TestScanningValuesBecomeBerthSettings: the scanning block's URLs are
// joined as BERTH_VULNDB_URL wants them, and berth's validation accepts
// what the chart renders.
func TestScanningValuesBecomeBerthSettings(t *testing.T) {
	m := render(t, chartDir(), "--set", "scanning.vulndbURLs[0]=https://osv.example/Debian/all.zip",
		"--set", "scanning.vulndbURLs[1]=https://osv.example/Alpine/all.zip", "--set", "scanning.vulndbRefresh=6h",
		"--set", "scanning.sbomCycloneDX=true")
	cm := get[*corev1.ConfigMap](t, m, "ConfigMap/berth")
	want := map[string]string{
		"BERTH_VULNDB_URL":     "https://osv.example/Debian/all.zip,https://osv.example/Alpine/all.zip",
		"BERTH_VULNDB_REFRESH": "6h",
		"BERTH_SBOM_CYCLONEDX": "true",
	}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("%s = %q, want %q", k, cm.Data[k], v)
		}
	}
	def := get[*corev1.ConfigMap](t, render(t, chartDir()), "ConfigMap/berth")
	if _, ok := def.Data["BERTH_VULNDB_URL"]; ok || def.Data["BERTH_VULNDB_REFRESH"] != "24h" || def.Data["BERTH_SBOM_CYCLONEDX"] != "false" {
		t.Errorf("default scanning settings: %v", def.Data)
	}
}

// TestSendfileValueReachesTheFilesystemDriverOnly: the filesystem's
// sendfile value becomes BERTH_STORAGE_SENDFILE; with S3 it is not set.
func TestSendfileValueReachesTheFilesystemDriverOnly(t *testing.T) {
	m := render(t, chartDir(), "--set", "persistence.imageChartStorage.filesystem.sendfile=false")
	if got := get[*corev1.ConfigMap](t, m, "ConfigMap/berth").Data["BERTH_STORAGE_SENDFILE"]; got != "false" {
		t.Errorf("BERTH_STORAGE_SENDFILE = %q, want false", got)
	}
	m = render(t, chartDir(), "-f", haValues)
	if got, ok := get[*corev1.ConfigMap](t, m, "ConfigMap/berth").Data["BERTH_STORAGE_SENDFILE"]; ok {
		t.Errorf("BERTH_STORAGE_SENDFILE = %q with S3", got)
	}
}
