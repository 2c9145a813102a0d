package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// composeFile is what the checks read of a compose file. Lists and maps that compose
// accepts in two forms are normalised by the helpers below.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Networks map[string]*struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
}

type composeService struct {
	Image       string `yaml:"image"`
	Command     any    `yaml:"command"`
	Environment any    `yaml:"environment"`
	EnvFile     any    `yaml:"env_file"`
	DependsOn   any    `yaml:"depends_on"`
	Healthcheck *struct {
		Test any `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes         []string `yaml:"volumes"`
	Ports           []string `yaml:"ports"`
	Networks        any      `yaml:"networks"`
	User            string   `yaml:"user"`
	ReadOnly        bool     `yaml:"read_only"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
}

func readCompose(path string) (composeFile, error) {
	docs, err := readYAML(path)
	if err != nil {
		return composeFile{}, err
	}
	if len(docs) != 1 {
		return composeFile{}, fmt.Errorf("%s: want one document, got %d", path, len(docs))
	}
	var c composeFile
	return c, docs[0].decode(&c)
}

// words is a command or list in either of compose's forms: a string or a list.
func words(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// environment is a service's environment in either form: a map or KEY=value items.
func environment(v any) map[string]string {
	env := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			env[k] = fmt.Sprint(x)
		}
	case []any:
		for _, x := range v {
			k, val, _ := strings.Cut(fmt.Sprint(x), "=")
			env[k] = val
		}
	}
	return env
}

// dependsOn is a service's depends_on: service → condition ("" in the short form).
func dependsOn(v any) map[string]string {
	deps := map[string]string{}
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			deps[fmt.Sprint(x)] = ""
		}
	case map[string]any:
		for k, x := range v {
			cond, _ := x.(map[string]any)["condition"].(string)
			deps[k] = cond
		}
	}
	return deps
}

// hasPair reports whether the words hold flag followed by value.
func hasPair(ws []string, flag, value string) bool {
	for i := range len(ws) - 1 {
		if ws[i] == flag && ws[i+1] == value {
			return true
		}
	}
	return false
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}`)

// check returns what is wrong with a compose file for the hotline.
func (c composeFile) check(known map[string]bool) []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	redis, okR := c.Services["redis"]
	pg, okP := c.Services["postgres"]
	h, okH := c.Services["hotline"]
	if !okR || !okP || !okH {
		bad("want the services redis, postgres and hotline, got %v", sortedKeys(c.Services))
		return p
	}

	cmd := words(redis.Command)
	for _, pair := range [][2]string{{"--appendonly", "yes"}, {"--appendfsync", "everysec"}, {"--maxmemory-policy", "noeviction"}} {
		if !hasPair(cmd, pair[0], pair[1]) {
			bad("redis: command %q lacks %s %s", cmd, pair[0], pair[1])
		}
	}
	for name, s := range map[string]composeService{"redis": redis, "postgres": pg} {
		if s.Healthcheck == nil || len(words(s.Healthcheck.Test)) == 0 {
			bad("%s: no healthcheck, so the hotline cannot wait for it", name)
		}
		if len(s.Ports) > 0 {
			bad("%s: publishes %v; only the hotline may reach it", name, s.Ports)
		}
	}
	volumeAt := func(s composeService, target string) string {
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == target {
				return parts[0]
			}
		}
		return ""
	}
	for _, want := range []struct{ service, target string }{{"redis", "/data"}, {"postgres", "/var/lib/postgresql/data"}} {
		src := volumeAt(c.Services[want.service], want.target)
		if _, named := c.Volumes[src]; src == "" || !named {
			bad("%s: %s must be a named volume, or its data goes with the container", want.service, want.target)
		}
	}

	deps := dependsOn(h.DependsOn)
	for _, s := range []string{"redis", "postgres"} {
		if deps[s] != "service_healthy" {
			bad("hotline: depends_on %s must have condition service_healthy, got %q", s, deps[s])
		}
	}
	env := environment(h.Environment)
	for _, k := range sortedKeys(env) {
		if !known[k] {
			bad("hotline: environment %s is not read by the hotline", k)
		}
	}
	// The URLs must point at the services above (after compose's interpolation).
	for k, host := range map[string]string{"REDIS_URL": "redis", "DATABASE_URL": "postgres"} {
		u, err := url.Parse(interpolation.ReplaceAllString(env[k], "x"))
		if err != nil || u.Hostname() != host {
			bad("hotline: %s must point at the %s service, got %q", k, host, env[k])
		}
	}
	if ef := words(h.EnvFile); !slices.Equal(ef, []string{".env"}) {
		bad("hotline: env_file must be .env (the filled copy of %s), got %v", envExample, ef)
	}
	dir := env["HOTLINE_DATA_DIR"]
	if src := volumeAt(h, dir); dir == "" || src == "" {
		bad("hotline: HOTLINE_DATA_DIR (%q) must be a mounted volume: the spool is fsynced there", dir)
	} else if _, named := c.Volumes[src]; !named {
		bad("hotline: the data directory must be a named volume, so that the spool outlives the container, got %q", src)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`).MatchString(h.User) {
		bad("hotline: user must be a numeric non-root user, got %q", h.User)
	}
	if !h.ReadOnly {
		bad("hotline: read_only must be true")
	}
	for _, port := range h.Ports {
		if !strings.HasPrefix(port, "127.0.0.1:") {
			bad("hotline: port %s is published on every interface; publish on 127.0.0.1 behind a TLS proxy", port)
		}
	}
	for name, s := range map[string]composeService{"redis": redis, "postgres": pg} {
		for _, n := range words(s.Networks) {
			if net := c.Networks[n]; net == nil || !net.Internal {
				bad("%s: network %s is not internal", name, n)
			}
		}
		if len(words(s.Networks)) == 0 {
			bad("%s: on the default network; put it on an internal one", name)
		}
	}
	return p
}

// TestCompose checks deploy/compose.yaml: Redis keeps an append-only file, both stores
// keep their data on volumes and answer health checks, and the hotline waits for them,
// reaches them, keeps its spool on a volume and runs as a non-root user.
func TestCompose(t *testing.T) {
	c, err := readCompose(composePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.check(hotlineVars(t)) {
		t.Error(p)
	}
}

// TestComposeInterpolation: every variable compose.yaml takes from .env is in the
// example env file, so that the organisation knows to fill it in.
func TestComposeInterpolation(t *testing.T) {
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := readEnvFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	found := interpolation.FindAllStringSubmatch(string(b), -1)
	if len(found) == 0 {
		t.Fatal("compose.yaml takes nothing from .env: the passwords must come from there")
	}
	for _, m := range found {
		if _, ok := ex.values[m[1]]; !ok {
			t.Errorf("compose.yaml uses ${%s}, which %s does not list", m[1], envExample)
		}
	}
}

// TestBadCompose: the checks find the mistakes of a broken compose file.
func TestBadCompose(t *testing.T) {
	c, err := readCompose(filepath.Join("testdata", "bad-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	problems := c.check(hotlineVars(t))
	for _, want := range []string{
		"redis: command",
		"lacks --appendfsync everysec",
		"redis: publishes",
		"postgres: no healthcheck",
		"postgres: /var/lib/postgresql/data must be a named volume",
		"depends_on postgres must have condition service_healthy",
		"environment HOTLINE_HOUR is not read",
		"DATABASE_URL must point at the postgres service",
		"HOTLINE_DATA_DIR",
		"user must be a numeric non-root user",
		"read_only must be true",
		"published on every interface",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("testdata/bad-compose.yaml: want a problem with %q; got:\n%s", want, strings.Join(problems, "\n"))
		}
	}
}
