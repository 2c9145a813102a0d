package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The files under test, relative to this package's directory.
const (
	repoRoot      = ".."
	dockerfile    = "Dockerfile"
	composePath   = "compose.yaml"
	envExample    = "hotline.env.example"
	k8sDir        = "k8s"
	hotlineSource = "../cmd/hotline"
)

// composeOnly are the variables of the example env file that compose.yaml reads and
// the hotline does not.
var composeOnly = map[string]bool{"POSTGRES_PASSWORD": true, "REDIS_PASSWORD": true}

// notSettings are variables the hotline reads that are no deployment setting.
var notSettings = map[string]string{
	"USER": "the actor the command-line tools write in the audit log",
}

// placeholder marks a secret value the organisation must fill in. The hotline refuses
// to start with it, so an unfilled Secret never falls back to the embedded mode.
const placeholder = "FILL-IN"

// hotlineVars reads, from the hotline's source, the name of every environment variable
// it reads: the first argument of env(…), getenv(…) and list(…), including names built
// in a loop over a map literal ("HOTLINE_RATE_"+ch for ch in {"SMS", …}).
func hotlineVars(t testing.TB) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(hotlineSource, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
		for name := range envNames(f) {
			if _, skip := notSettings[name]; !skip {
				vars[name] = true
			}
		}
	}
	// A parser that silently finds nothing would make every comparison below pass.
	for _, must := range []string{"REDIS_URL", "HOTLINE_LOOKUP_KEY", "HOTLINE_NOTIFY_SMS", "HOTLINE_RATE_SMS", "TWILIO_WHATSAPP_TEMPLATE_SID"} {
		if !vars[must] {
			t.Fatalf("reading %s found no %s: the way the hotline reads its environment changed; update hotlineVars", hotlineSource, must)
		}
	}
	return vars
}

// envReaders are the functions of cmd/hotline whose first argument names a variable.
var envReaders = map[string]bool{"env": true, "getenv": true, "list": true}

func envNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if name, ok := envCallArg(n); ok {
				if lit, ok := stringLit(name); ok {
					names[lit] = true
				}
			}
		case *ast.RangeStmt:
			// for ch := range map[string]string{"SMS": …} { env("HOTLINE_RATE_"+ch, …) }
			key, _ := n.Key.(*ast.Ident)
			lit, _ := n.X.(*ast.CompositeLit)
			if key == nil || lit == nil {
				return true
			}
			var suffixes []string
			for _, el := range lit.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if s, ok := stringLit(kv.Key); ok {
						suffixes = append(suffixes, s)
					}
				}
			}
			ast.Inspect(n.Body, func(m ast.Node) bool {
				call, ok := m.(*ast.CallExpr)
				if !ok {
					return true
				}
				arg, ok := envCallArg(call)
				if !ok {
					return true
				}
				bin, ok := arg.(*ast.BinaryExpr)
				if !ok || bin.Op != token.ADD {
					return true
				}
				prefix, ok := stringLit(bin.X)
				id, isIdent := bin.Y.(*ast.Ident)
				if ok && isIdent && id.Name == key.Name {
					for _, s := range suffixes {
						names[prefix+s] = true
					}
				}
				return true
			})
		}
		return true
	})
	return names
}

func envCallArg(call *ast.CallExpr) (ast.Expr, bool) {
	fn, ok := call.Fun.(*ast.Ident)
	if !ok || !envReaders[fn.Name] || len(call.Args) == 0 {
		return nil, false
	}
	return call.Args[0], true
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// envFile is a KEY=value file in the order written.
type envFile struct {
	keys   []string
	values map[string]string
}

var envLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

func readEnvFile(path string) (envFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return envFile{}, err
	}
	defer f.Close()
	e := envFile{values: map[string]string{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil {
			return e, fmt.Errorf("%s:%d: not KEY=value: %q", path, n, line)
		}
		if _, dup := e.values[m[1]]; dup {
			return e, fmt.Errorf("%s:%d: %s set twice", path, n, m[1])
		}
		e.keys = append(e.keys, m[1])
		e.values[m[1]] = m[2]
	}
	return e, sc.Err()
}

// yamlDoc is one document of a YAML file, kept raw for decoding by kind.
type yamlDoc struct {
	file string
	raw  yaml.RawMessage
	head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
	}
}

// readYAML reads every document of a (multi-document) YAML file.
func readYAML(path string) ([]yamlDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []yamlDoc
	for {
		d := yamlDoc{file: path}
		if err := dec.Decode(&d.raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, len(docs)+1, err)
		}
		if len(bytes.TrimSpace(d.raw)) == 0 || string(bytes.TrimSpace(d.raw)) == "null" {
			continue // an empty document, as between two ---
		}
		if err := yaml.Unmarshal(d.raw, &d.head); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, len(docs)+1, err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

func (d yamlDoc) decode(v any) error {
	if err := yaml.Unmarshal(d.raw, v); err != nil {
		return fmt.Errorf("%s: %s %s: %w", d.file, d.head.Kind, d.head.Metadata.Name, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestEnvExampleListsEveryVariable: the example env file is where an organisation
// learns what it can set, so it names every variable the hotline reads, and nothing
// the hotline does not read (a typo there is a setting silently ignored).
func TestEnvExampleListsEveryVariable(t *testing.T) {
	vars := hotlineVars(t)
	ex, err := readEnvFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range sortedKeys(vars) {
		if _, ok := ex.values[v]; !ok {
			t.Errorf("%s: the hotline reads %s; add it, with its default in a comment", envExample, v)
		}
	}
	for _, k := range ex.keys {
		if !vars[k] && !composeOnly[k] {
			t.Errorf("%s: %s is not read by the hotline (a typo, or a variable that went away)", envExample, k)
		}
	}
}

// TestEnvExampleHoldsNoValues: the example is committed, so it carries no value at
// all (an empty value is the default); and each secret says it must be filled in.
func TestEnvExampleHoldsNoValues(t *testing.T) {
	b, err := os.ReadFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := readEnvFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ex.keys {
		if v := ex.values[k]; v != "" {
			t.Errorf("%s: %s=%q: leave it empty and write the default in a comment", envExample, k, v)
		}
	}
	for _, secret := range []string{"HOTLINE_LOOKUP_KEY", "HOTLINE_DATA_KEYS", "HOTLINE_PUBLIC_URL", "POSTGRES_PASSWORD", "REDIS_PASSWORD"} {
		if !regexp.MustCompile(`(?m)^# fill in.*\n(#.*\n)*` + secret + `=$`).Match(b) {
			t.Errorf("%s: %s must be preceded by a comment that starts with %q", envExample, secret, "# fill in")
		}
	}
}

// TestHotlineVars checks the reader of the hotline's source on a small file, so that a
// change in how it finds names shows here rather than as a silently shorter list.
func TestHotlineVars(t *testing.T) {
	const src = `package main
func load(getenv func(string) string) {
	env := func(k, d string) string { return d }
	_ = env("A_ONE", "x")
	_ = getenv("A_TWO")
	_ = list("A_THREE")
	_ = other("NOT_ONE")
	for ch, def := range map[string]string{"SMS": "10", "TELEGRAM": "30"} {
		_ = env("A_RATE_"+ch, def)
	}
}`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := sortedKeys(envNames(f))
	want := []string{"A_ONE", "A_RATE_SMS", "A_RATE_TELEGRAM", "A_THREE", "A_TWO"}
	if !slices.Equal(got, want) {
		t.Errorf("envNames = %v, want %v", got, want)
	}
}
