package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Kubernetes objects the checks read: only the fields they look at.
type (
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	httpProbe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		RunAsUser                *int  `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             *struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
		SeccompProfile *struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name  string `yaml:"name"`
		Image string `yaml:"image"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"env"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		ReadinessProbe *httpProbe `yaml:"readinessProbe"`
		LivenessProbe  *httpProbe `yaml:"livenessProbe"`
		StartupProbe   *httpProbe `yaml:"startupProbe"`
		Lifecycle      *struct {
			PreStop *struct {
				Sleep *struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext *securityContext `yaml:"securityContext"`
		VolumeMounts    []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	deployment struct {
		Spec struct {
			Replicas *int          `yaml:"replicas"`
			Selector labelSelector `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					TerminationGracePeriodSeconds *int             `yaml:"terminationGracePeriodSeconds"`
					SecurityContext               *securityContext `yaml:"securityContext"`
					Containers                    []container      `yaml:"containers"`
					Volumes                       []struct {
						Name     string `yaml:"name"`
						EmptyDir *struct {
							Medium string `yaml:"medium"`
						} `yaml:"emptyDir"`
						PersistentVolumeClaim *struct {
							ClaimName string `yaml:"claimName"`
						} `yaml:"persistentVolumeClaim"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Port       int `yaml:"port"`
				TargetPort any `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	hpa struct {
		Spec struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas *int `yaml:"minReplicas"`
			MaxReplicas int  `yaml:"maxReplicas"`
		} `yaml:"spec"`
	}
	pdb struct {
		Spec struct {
			MinAvailable   any           `yaml:"minAvailable"`
			MaxUnavailable any           `yaml:"maxUnavailable"`
			Selector       labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	configMap struct {
		Data map[string]string `yaml:"data"`
	}
	secret struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	kustomization struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
)

// named is an object of a kind with its name and namespace.
type named[T any] struct {
	name, namespace string
	obj             T
}

// manifests are the Kubernetes objects of deploy/k8s, by kind.
type manifests struct {
	deployments []named[deployment]
	services    []named[service]
	hpas        []named[hpa]
	pdbs        []named[pdb]
	configMaps  []named[configMap]
	secrets     []named[secret]
	other       []string // kinds the checks do not know: "Kind name (file)"
	namespaces  map[string]bool
}

// apiVersions are the versions the manifests must use for each kind they hold.
var apiVersions = map[string]string{
	"Namespace": "v1", "Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
	"HorizontalPodAutoscaler": "autoscaling/v2", "PodDisruptionBudget": "policy/v1",
}

func loadManifests(paths ...string) (manifests, []string, error) {
	var (
		m        = manifests{namespaces: map[string]bool{}}
		problems []string
	)
	for _, p := range paths {
		docs, err := readYAML(p)
		if err != nil {
			return m, nil, err
		}
		for _, d := range docs {
			h := d.head
			where := fmt.Sprintf("%s %q (%s)", h.Kind, h.Metadata.Name, filepath.Base(p))
			if h.APIVersion == "" || h.Kind == "" || h.Metadata.Name == "" {
				problems = append(problems, where+": apiVersion, kind and metadata.name are required")
				continue
			}
			if want, ok := apiVersions[h.Kind]; ok && h.APIVersion != want {
				problems = append(problems, fmt.Sprintf("%s: apiVersion %s, want %s", where, h.APIVersion, want))
			}
			if h.Kind != "Namespace" {
				m.namespaces[h.Metadata.Namespace] = true
			}
			var err error
			switch h.Kind {
			case "Deployment":
				m.deployments, err = add(m.deployments, d)
			case "Service":
				m.services, err = add(m.services, d)
			case "HorizontalPodAutoscaler":
				m.hpas, err = add(m.hpas, d)
			case "PodDisruptionBudget":
				m.pdbs, err = add(m.pdbs, d)
			case "ConfigMap":
				m.configMaps, err = add(m.configMaps, d)
			case "Secret":
				m.secrets, err = add(m.secrets, d)
			case "Namespace":
			default:
				m.other = append(m.other, where)
			}
			if err != nil {
				return m, nil, err
			}
		}
	}
	return m, problems, nil
}

func add[T any](list []named[T], d yamlDoc) ([]named[T], error) {
	var v T
	if err := d.decode(&v); err != nil {
		return list, err
	}
	return append(list, named[T]{d.head.Metadata.Name, d.head.Metadata.Namespace, v}), nil
}

// k8sFiles are the manifests of deploy/k8s (kustomization.yaml is no manifest).
func k8sFiles(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(paths, func(p string) bool { return filepath.Base(p) == "kustomization.yaml" })
}

func loadK8s(t testing.TB) manifests {
	t.Helper()
	m, problems, err := loadManifests(k8sFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	return m
}

// subset reports whether every label of sel is in labels, with the same value.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// intOf reads a YAML integer (or a string of digits) decoded into any.
func intOf(v any) (int, bool) {
	switch v := v.(type) {
	case uint64:
		return int(v), true
	case int64:
		return int(v), true
	case int:
		return v, true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// Where the hotline answers what (cmd/hotline/routes.go). Readiness is /healthz too:
// while Redis is away the webhooks spool and answer, and a readiness on /readyz would
// take every replica out of the Service at once (README, "Operations").
const (
	livenessPath  = "/healthz"
	readinessPath = "/healthz"
)

// runtimeVars are variables read by Go or a library the hotline uses rather than by
// the hotline's configuration, which the manifests may set.
var runtimeVars = map[string]string{
	"SSL_CERT_FILE": "crypto/x509: the CA bundle (a managed Redis's private CA)",
	"SSL_CERT_DIR":  "crypto/x509: a directory of CA certificates",
	"GOMEMLIMIT":    "the Go runtime's soft memory limit",
	"GOMAXPROCS":    "the Go runtime's CPUs",
	"GODEBUG":       "the Go runtime's settings",
	"TWILIO_EDGE":   "twilio-go reads it from the process environment",
	"TWILIO_REGION": "twilio-go reads it from the process environment",
}

// check returns what is wrong with the manifests: each problem a sentence.
func (m manifests) check(hotline map[string]bool) []string {
	known := maps.Clone(hotline)
	for k := range runtimeVars {
		known[k] = true
	}
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	for _, o := range m.other {
		bad("%s: a kind these checks do not know; teach them or remove it", o)
	}
	if len(m.namespaces) != 1 || m.namespaces[""] {
		bad("every object must name the same namespace, got %v", sortedKeys(m.namespaces))
	}
	if len(m.deployments) != 1 {
		bad("want exactly one Deployment, got %d", len(m.deployments))
		return p
	}
	dep := m.deployments[0]
	pod := dep.obj.Spec.Template
	labels := pod.Metadata.Labels
	if len(dep.obj.Spec.Selector.MatchLabels) == 0 || !subset(dep.obj.Spec.Selector.MatchLabels, labels) {
		bad("Deployment %s: selector %v does not match its pod labels %v", dep.name, dep.obj.Spec.Selector.MatchLabels, labels)
	}
	if len(pod.Spec.Containers) != 1 {
		bad("Deployment %s: want one container, got %d", dep.name, len(pod.Spec.Containers))
		return p
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int{}
	for _, cp := range c.Ports {
		ports[cp.Name] = cp.ContainerPort
	}
	if ports["http"] != 8080 {
		bad("container %s: want the port named http on 8080 (HOTLINE_ADDR), got %v", c.Name, c.Ports)
	}
	resolve := func(port any) int {
		if name, ok := port.(string); ok {
			return ports[name]
		}
		n, _ := intOf(port)
		return n
	}
	probe := func(what string, pr *httpProbe, path string, required bool) {
		switch {
		case pr == nil && !required:
		case pr == nil || pr.HTTPGet == nil:
			bad("container %s: %s probe: want an HTTP GET of %s", c.Name, what, path)
		case pr.HTTPGet.Path != path:
			bad("container %s: %s probe on %s, want %s", c.Name, what, pr.HTTPGet.Path, path)
		case resolve(pr.HTTPGet.Port) != 8080:
			bad("container %s: %s probe on port %v, which is not the hotline's 8080", c.Name, what, pr.HTTPGet.Port)
		}
	}
	probe("readiness", c.ReadinessProbe, readinessPath, true)
	probe("liveness", c.LivenessProbe, livenessPath, true)
	probe("startup", c.StartupProbe, livenessPath, false)
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			bad("container %s: no resources.requests.%s", c.Name, r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		bad("container %s: no resources.limits.memory", c.Name)
	}

	// Security: a non-root user, a read-only root filesystem, nothing more.
	psc, csc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &securityContext{}
	}
	if csc == nil {
		csc = &securityContext{}
	}
	isTrue := func(b ...*bool) bool {
		for _, v := range b {
			if v != nil {
				return *v
			}
		}
		return false
	}
	if !isTrue(csc.RunAsNonRoot, psc.RunAsNonRoot) {
		bad("Deployment %s: runAsNonRoot must be true", dep.name)
	}
	for _, u := range []*int{psc.RunAsUser, csc.RunAsUser} {
		if u != nil && *u == 0 {
			bad("Deployment %s: runAsUser 0 is root", dep.name)
		}
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		bad("container %s: readOnlyRootFilesystem must be true", c.Name)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		bad("container %s: allowPrivilegeEscalation must be false", c.Name)
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		bad("container %s: capabilities must drop ALL", c.Name)
	}
	if (psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault") &&
		(csc.SeccompProfile == nil || csc.SeccompProfile.Type != "RuntimeDefault") {
		bad("Deployment %s: seccompProfile must be RuntimeDefault", dep.name)
	}

	// The data directory (the spool) and /tmp are writable volumes on a read-only root.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if !known[e.Name] {
			bad("container %s: env %s is not read by the hotline", c.Name, e.Name)
		}
	}
	writable := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		if vm.ReadOnly {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && (v.EmptyDir != nil && v.EmptyDir.Medium == "" || v.PersistentVolumeClaim != nil) {
				writable[vm.MountPath] = true
			}
		}
	}
	if dir := env["HOTLINE_DATA_DIR"]; dir == "" || !writable[dir] {
		bad("container %s: HOTLINE_DATA_DIR (%q) must be the mount path of a writable, disk-backed volume: the spool is fsynced there", c.Name, dir)
	}
	if !writable["/tmp"] {
		bad("container %s: /tmp must be a writable volume on a read-only root", c.Name)
	}

	// Settings come from the ConfigMap and the Secret, and name only what the hotline reads.
	sources := map[string]string{} // variable → where it is set
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			i := slices.IndexFunc(m.configMaps, func(x named[configMap]) bool { return x.name == ef.ConfigMapRef.Name })
			if i < 0 {
				bad("container %s: envFrom names ConfigMap %s, which is not in the manifests", c.Name, ef.ConfigMapRef.Name)
				continue
			}
			for k := range m.configMaps[i].obj.Data {
				sources[k] += " ConfigMap " + ef.ConfigMapRef.Name
			}
		case ef.SecretRef != nil:
			i := slices.IndexFunc(m.secrets, func(x named[secret]) bool { return x.name == ef.SecretRef.Name })
			if i < 0 {
				bad("container %s: envFrom names Secret %s, which is not in the manifests", c.Name, ef.SecretRef.Name)
				continue
			}
			s := m.secrets[i].obj
			for k := range maps.Keys(s.StringData) {
				sources[k] += " Secret " + ef.SecretRef.Name
			}
			for k := range maps.Keys(s.Data) {
				sources[k] += " Secret " + ef.SecretRef.Name
			}
		}
	}
	for _, k := range sortedKeys(sources) {
		if !known[k] {
			bad("%s: %s is not read by the hotline", strings.TrimSpace(sources[k]), k)
		}
		if strings.Count(sources[k], " ") > 2 {
			bad("%s is set in more than one place:%s", k, sources[k])
		}
	}
	for _, must := range []string{"REDIS_URL", "DATABASE_URL", "HOTLINE_LOOKUP_KEY", "HOTLINE_DATA_KEYS", "HOTLINE_PUBLIC_URL"} {
		if sources[must] == "" {
			bad("%s must come from the ConfigMap or the Secret: without it the hotline runs embedded, in memory", must)
		}
	}

	// Replicas: at least two, by the Deployment or by the autoscaler that owns it.
	minReplicas := 1
	if dep.obj.Spec.Replicas != nil {
		minReplicas = *dep.obj.Spec.Replicas
	}
	for _, h := range m.hpas {
		ref := h.obj.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != dep.name || ref.APIVersion != "apps/v1" {
			bad("HorizontalPodAutoscaler %s: targets %s %s %s, not the Deployment %s", h.name, ref.APIVersion, ref.Kind, ref.Name, dep.name)
			continue
		}
		if h.obj.Spec.MinReplicas == nil {
			bad("HorizontalPodAutoscaler %s: set minReplicas (the default is 1)", h.name)
			continue
		}
		minReplicas = *h.obj.Spec.MinReplicas
		if h.obj.Spec.MaxReplicas < minReplicas {
			bad("HorizontalPodAutoscaler %s: maxReplicas %d below minReplicas %d", h.name, h.obj.Spec.MaxReplicas, minReplicas)
		}
	}
	if minReplicas < 2 {
		bad("Deployment %s: at least 2 replicas (spec.replicas or the autoscaler's minReplicas), got %d", dep.name, minReplicas)
	}

	for _, s := range m.services {
		if len(s.obj.Spec.Selector) == 0 || !subset(s.obj.Spec.Selector, labels) {
			bad("Service %s: selector %v does not match the pod labels %v", s.name, s.obj.Spec.Selector, labels)
		}
		for _, sp := range s.obj.Spec.Ports {
			if resolve(sp.TargetPort) != 8080 {
				bad("Service %s: port %d goes to %v, not to the hotline's 8080", s.name, sp.Port, sp.TargetPort)
			}
		}
	}
	if len(m.services) == 0 {
		bad("no Service")
	}
	for _, b := range m.pdbs {
		sel := b.obj.Spec.Selector.MatchLabels
		if len(sel) == 0 || !subset(sel, labels) {
			bad("PodDisruptionBudget %s: selector %v does not match the pod labels %v", b.name, sel, labels)
		}
		if n, ok := intOf(b.obj.Spec.MinAvailable); ok && n >= minReplicas {
			bad("PodDisruptionBudget %s: minAvailable %d leaves no pod to evict at %d replicas: drains would hang", b.name, n, minReplicas)
		}
		if b.obj.Spec.MinAvailable == nil && b.obj.Spec.MaxUnavailable == nil {
			bad("PodDisruptionBudget %s: set minAvailable or maxUnavailable", b.name)
		}
	}
	if len(m.pdbs) == 0 {
		bad("no PodDisruptionBudget")
	}
	return p
}

// TestManifests checks deploy/k8s as a whole: the probes, the security context, the
// volumes, where each setting comes from, and that the objects point at each other.
func TestManifests(t *testing.T) {
	m := loadK8s(t)
	for _, p := range m.check(hotlineVars(t)) {
		t.Error(p)
	}
}

// TestManifestChecksCatch breaks the manifests one way at a time and expects the
// check to say so, so that a check that passes everything cannot hide here.
func TestManifestChecksCatch(t *testing.T) {
	known := hotlineVars(t)
	pod := func(m *manifests) *container { return &m.deployments[0].obj.Spec.Template.Spec.Containers[0] }
	for _, tc := range []struct {
		name   string
		mutate func(m *manifests)
		want   string
	}{
		{"liveness on readyz", func(m *manifests) { pod(m).LivenessProbe.HTTPGet.Path = "/readyz" }, "liveness probe on /readyz"},
		{"readiness on readyz", func(m *manifests) { pod(m).ReadinessProbe.HTTPGet.Path = "/readyz" }, "readiness probe on /readyz"},
		{"no readiness", func(m *manifests) { pod(m).ReadinessProbe = nil }, "readiness probe: want an HTTP GET"},
		{"probe on another port", func(m *manifests) { pod(m).LivenessProbe.HTTPGet.Port = "metrics" }, "not the hotline's 8080"},
		{"root allowed", func(m *manifests) {
			f := false
			m.deployments[0].obj.Spec.Template.Spec.SecurityContext.RunAsNonRoot = &f
			pod(m).SecurityContext.RunAsNonRoot = nil
		}, "runAsNonRoot must be true"},
		{"writable root", func(m *manifests) { pod(m).SecurityContext.ReadOnlyRootFilesystem = nil }, "readOnlyRootFilesystem"},
		{"no memory limit", func(m *manifests) { delete(pod(m).Resources.Limits, "memory") }, "resources.limits.memory"},
		{"no cpu request", func(m *manifests) { delete(pod(m).Resources.Requests, "cpu") }, "resources.requests.cpu"},
		{"spool on the read-only root", func(m *manifests) {
			for i, e := range pod(m).Env {
				if e.Name == "HOTLINE_DATA_DIR" {
					pod(m).Env[i].Value = "/data"
				}
			}
		}, "HOTLINE_DATA_DIR"},
		{"hpa targets another name", func(m *manifests) { m.hpas[0].obj.Spec.ScaleTargetRef.Name = "hotline-old" }, "not the Deployment hotline"},
		{"one replica", func(m *manifests) { one := 1; m.hpas[0].obj.Spec.MinReplicas = &one }, "at least 2 replicas"},
		{"pdb selects nothing", func(m *manifests) { m.pdbs[0].obj.Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "hotlin" }, "PodDisruptionBudget hotline: selector"},
		{"service selects nothing", func(m *manifests) { m.services[0].obj.Spec.Selector["app.kubernetes.io/component"] = "web" }, "Service hotline: selector"},
		{"service to another port", func(m *manifests) { m.services[0].obj.Spec.Ports[0].TargetPort = uint64(9090) }, "not to the hotline's 8080"},
		{"typo in a setting", func(m *manifests) { m.configMaps[0].obj.Data["HOTLINE_HOUR"] = "" }, "HOTLINE_HOUR is not read by the hotline"},
		{"typo in the pod's env", func(m *manifests) {
			pod(m).Env = append(pod(m).Env, struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			}{"SSL_CERTS_FILE", "/etc/ssl/x.pem"})
		}, "env SSL_CERTS_FILE is not read by the hotline"},
		{"secret in two places", func(m *manifests) { m.configMaps[0].obj.Data["REDIS_URL"] = "" }, "REDIS_URL is set in more than one place"},
		{"no redis url", func(m *manifests) { delete(m.secrets[0].obj.StringData, "REDIS_URL") }, "REDIS_URL must come from"},
		{"another namespace", func(m *manifests) { m.namespaces["default"] = true }, "same namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadK8s(t)
			if len(m.hpas) == 0 || len(m.pdbs) == 0 || len(m.services) == 0 || len(m.configMaps) == 0 || len(m.secrets) == 0 {
				t.Fatal("the manifests lack an object this test breaks")
			}
			tc.mutate(&m)
			problems := m.check(known)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("broken manifests passed: want a problem with %q, got %q", tc.want, problems)
			}
		})
	}
}

// TestBadManifestFile reads a broken manifest file as it would read the real ones.
func TestBadManifestFile(t *testing.T) {
	m, problems, err := loadManifests(filepath.Join("testdata", "bad-k8s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	problems = append(problems, m.check(hotlineVars(t))...)
	for _, want := range []string{
		`Deployment "" (bad-k8s.yaml): apiVersion, kind and metadata.name are required`,
		`HorizontalPodAutoscaler "hotline" (bad-k8s.yaml): apiVersion autoscaling/v1, want autoscaling/v2`,
		"Ingres \"hotline\" (bad-k8s.yaml): a kind these checks do not know",
		"Deployment hotline: selector",
		"liveness probe on /readyz",
		"runAsNonRoot must be true",
		"readOnlyRootFilesystem must be true",
		"HOTLINE_DATA_DIR",
		"Service hotline: selector",
		"at least 2 replicas",
		"no PodDisruptionBudget",
		"REDIS_URL must come from",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("testdata/bad-k8s.yaml: want a problem with %q; got:\n%s", want, strings.Join(problems, "\n"))
		}
	}
}

// TestSecretTemplate: the committed Secret holds no value, only placeholders the
// hotline refuses and empty values that leave a feature off.
func TestSecretTemplate(t *testing.T) {
	m := loadK8s(t)
	if len(m.secrets) != 1 {
		t.Fatalf("want one Secret template, got %d", len(m.secrets))
	}
	s := m.secrets[0]
	if len(s.obj.Data) > 0 {
		t.Errorf("Secret %s: use stringData with placeholders, not data", s.name)
	}
	for _, k := range sortedKeys(s.obj.StringData) {
		if v := s.obj.StringData[k]; v != "" && v != placeholder {
			t.Errorf("Secret %s: %s holds a value; want %q or empty", s.name, k, placeholder)
		}
	}
	for _, k := range []string{"REDIS_URL", "DATABASE_URL", "HOTLINE_LOOKUP_KEY", "HOTLINE_DATA_KEYS"} {
		if s.obj.StringData[k] != placeholder {
			t.Errorf("Secret %s: %s must be %q, so that an unfilled Secret stops the hotline", s.name, k, placeholder)
		}
	}
}

// TestKustomization: every manifest but the Secret template is listed (applying the
// manifests must never overwrite the real Secret with placeholders), and all exist.
func TestKustomization(t *testing.T) {
	docs, err := readYAML(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil || len(docs) != 1 {
		t.Fatalf("kustomization.yaml: %v (%d documents)", err, len(docs))
	}
	var k kustomization
	if err := docs[0].decode(&k); err != nil {
		t.Fatal(err)
	}
	m := loadK8s(t)
	if !m.namespaces[k.Namespace] {
		t.Errorf("kustomization namespace %q is not the manifests' %v", k.Namespace, sortedKeys(m.namespaces))
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}
	for _, p := range k8sFiles(t) {
		base := filepath.Base(p)
		listed := slices.Contains(k.Resources, base)
		if base == "secret.yaml" && listed {
			t.Errorf("kustomization lists secret.yaml: applying it would overwrite the real Secret with placeholders")
		}
		if base != "secret.yaml" && !listed {
			t.Errorf("kustomization does not list %s", base)
		}
	}
}
