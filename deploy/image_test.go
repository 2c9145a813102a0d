package deploy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"fmt"
	"go/version"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd   string // upper case: FROM, RUN, COPY…
	args  string
	stage int // index of the FROM it belongs to (-1 before the first)
}

// readDockerfile reads the instructions of a Dockerfile.
func readDockerfile(path string) ([]instruction, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		out   []instruction
		cur   strings.Builder
		stage = -1
	)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd, strings.TrimSpace(args), stage})
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue // a comment, also inside a continued instruction
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return out, sc.Err()
}

// shellWords splits a shell command line into words the way sh would for the simple
// commands of a Dockerfile: quotes, backslashes, $VAR and ${VAR} (from vars, or an
// error), and the separators && ; | as words of their own.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	expand := func(i int) (int, error) { // s[i] == '$'
		name, end := "", i+1
		if end < len(s) && s[end] == '{' {
			close := strings.IndexByte(s[end:], '}')
			if close < 0 {
				return 0, fmt.Errorf("unclosed ${ in %q", s)
			}
			name, end = s[end+1:end+close], end+close+1
		} else {
			for end < len(s) && (s[end] == '_' || s[end] >= 'A' && s[end] <= 'Z' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= '0' && s[end] <= '9') {
				end++
			}
			name = s[i+1 : end]
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("$%s is not an ARG this test knows", name)
		}
		cur.WriteString(v)
		inWord = true
		return end, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unclosed ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord, i = true, i+end+2
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.ContainsRune("\"\\$`", rune(s[i+1])):
					cur.WriteByte(s[i+1])
					i++
				case s[i] == '$':
					end, err := expand(i)
					if err != nil {
						return nil, err
					}
					i = end - 1
				default:
					cur.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, fmt.Errorf(`unclosed " in %q`, s)
			}
			inWord, i = true, i+1
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inWord, i = true, i+2
		case c == '$':
			end, err := expand(i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == ';' || c == '|' || c == '&' && strings.HasPrefix(s[i:], "&&"):
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			op := string(c)
			if c == '&' || c == '|' && strings.HasPrefix(s[i:], "||") {
				op += op
			}
			words, i = append(words, op), i+len(op)
		default:
			cur.WriteByte(c)
			inWord, i = true, i+1
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// flagValue returns the value of a go command flag written -flag=value or -flag value.
func flagValue(args []string, flag string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
		if a == flag && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// image is what the tests read of deploy/Dockerfile.
type image struct {
	goVersion string            // the Go release of the build stage
	buildEnv  []string          // KEY=value before `go build`
	buildArgs []string          // `go build` and its arguments, as written
	output    string            // the -o path in the build stage
	final     []instruction     // the last stage
	env       map[string]string // ENV of the last stage
}

func readImage(path string) (image, error) {
	ins, err := readDockerfile(path)
	if err != nil {
		return image{}, err
	}
	if len(ins) == 0 {
		return image{}, fmt.Errorf("%s: no instructions", path)
	}
	im := image{env: map[string]string{}}
	// Build arguments: the global ARG defaults, and what BuildKit sets for the platform.
	vars := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH,
		"BUILDPLATFORM": runtime.GOOS + "/" + runtime.GOARCH}
	last := ins[len(ins)-1].stage
	for _, in := range ins {
		switch {
		case in.cmd == "ARG":
			for _, a := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(a, "="); ok {
					vars[k] = v
				} else if _, set := vars[a]; !set {
					return im, fmt.Errorf("%s: ARG %s has no default", path, a)
				}
			}
		case in.cmd == "FROM" && strings.Contains(in.args, "golang:"):
			w, err := shellWords(in.args, vars)
			if err != nil {
				return im, fmt.Errorf("%s: FROM %s: %w", path, in.args, err)
			}
			for _, x := range w {
				if v, ok := strings.CutPrefix(x, "golang:"); ok {
					im.goVersion = strings.SplitN(v, "-", 2)[0]
				}
			}
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			w, err := shellWords(in.args, vars)
			if err != nil {
				return im, fmt.Errorf("%s: RUN %s: %w", path, in.args, err)
			}
			for len(w) > 0 && strings.HasPrefix(w[0], "--") {
				w = w[1:] // --mount=…, --network=…: BuildKit's, not the command's
			}
			if slices.ContainsFunc(w, func(x string) bool { return x == "&&" || x == ";" || x == "|" || x == "||" }) {
				return im, fmt.Errorf("%s: keep `go build` a command of its own RUN, got %q", path, w)
			}
			for len(w) > 0 && envLine.MatchString(w[0]) {
				im.buildEnv, w = append(im.buildEnv, w[0]), w[1:]
			}
			if len(w) < 2 || w[0] != "go" || w[1] != "build" {
				return im, fmt.Errorf("%s: want [ENV=…] go build …, got %q", path, w)
			}
			im.buildArgs = w[1:]
			im.output, _ = flagValue(im.buildArgs, "-o")
		case in.stage == last && in.cmd == "ENV":
			w, err := shellWords(in.args, vars)
			if err != nil {
				return im, fmt.Errorf("%s: ENV %s: %w", path, in.args, err)
			}
			for _, kv := range w {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return im, fmt.Errorf("%s: write ENV KEY=value, got %q", path, in.args)
				}
				im.env[k] = v
			}
		}
		if in.stage == last {
			im.final = append(im.final, in)
		}
	}
	if im.goVersion == "" || im.buildArgs == nil || im.output == "" {
		return im, fmt.Errorf("%s: want a golang build stage with `go build … -o PATH`, got version %q, build %q", path, im.goVersion, im.buildArgs)
	}
	return im, nil
}

func loadImage(t testing.TB) image {
	t.Helper()
	im, err := readImage(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// last returns the arguments of the last instruction cmd of the final stage.
func (im image) last(cmd string) string {
	for _, in := range slices.Backward(im.final) {
		if in.cmd == cmd {
			return in.args
		}
	}
	return ""
}

// check returns what is wrong with the image for the hotline: a Go new enough for
// go.mod (goMod, its go line's version), a static build with the time zone database
// built in, a non-root numeric user, the port, the entry point, and a data directory
// that is a volume owned by that user.
func (im image) check(goMod string) []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if version.Compare("go"+im.goVersion, "go"+goMod) < 0 {
		bad("Dockerfile builds with Go %s, go.mod wants %s (the golang image sets GOTOOLCHAIN=local: the build would stop)", im.goVersion, goMod)
	}
	if !slices.Contains(im.buildEnv, "CGO_ENABLED=0") {
		bad("go build runs with %q; want CGO_ENABLED=0 for a static binary", im.buildEnv)
	}
	if !slices.Contains(im.buildArgs, "-trimpath") {
		bad("go build lacks -trimpath: %q", im.buildArgs)
	}
	if v, _ := flagValue(im.buildArgs, "-ldflags"); !slices.Contains(strings.Fields(v), "-s") || !slices.Contains(strings.Fields(v), "-w") {
		bad("go build lacks -ldflags=\"-s -w\": %q", im.buildArgs)
	}
	// cmd/hotline reads HOTLINE_HOURS' zone with time.LoadLocation: build the zone
	// database in, rather than depend on the base image's /usr/share/zoneinfo.
	if v, _ := flagValue(im.buildArgs, "-tags"); !slices.Contains(strings.Split(v, ","), "timetzdata") {
		bad("go build lacks -tags timetzdata: %q", im.buildArgs)
	}
	if from := im.final[0].args; !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		bad("final stage FROM %s: want a static distroless image or scratch", from)
	}
	user := im.last("USER")
	if !regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`).MatchString(user) {
		bad("USER %q: want a numeric user other than root, so that runAsNonRoot can check it", user)
	}
	if im.last("EXPOSE") != "8080" || !strings.HasSuffix(im.env["HOTLINE_ADDR"], ":8080") {
		bad("EXPOSE %q, HOTLINE_ADDR %q: want 8080 on both", im.last("EXPOSE"), im.env["HOTLINE_ADDR"])
	}
	entry, binary := im.last("ENTRYPOINT"), ""
	for _, in := range im.final {
		if w := strings.Fields(in.args); in.cmd == "COPY" && len(w) >= 3 && w[len(w)-2] == im.output {
			binary = w[len(w)-1]
		}
	}
	if binary == "" || !strings.HasPrefix(entry, `["`+binary+`"`) {
		bad("ENTRYPOINT %s does not run the binary built at %s (copied to %q)", entry, im.output, binary)
	}
	dir := im.env["HOTLINE_DATA_DIR"]
	if dir == "" || !strings.Contains(im.last("VOLUME"), `"`+dir+`"`) {
		bad("ENV HOTLINE_DATA_DIR %q must be a VOLUME (got %s)", dir, im.last("VOLUME"))
	}
	uid, _, _ := strings.Cut(user, ":")
	if !slices.ContainsFunc(im.final, func(in instruction) bool {
		w := strings.Fields(in.args)
		return in.cmd == "COPY" && w[len(w)-1] == dir && (uid != "" && uid != "0") &&
			slices.ContainsFunc(w, func(x string) bool { return x == "--chown="+uid || strings.HasPrefix(x, "--chown="+uid+":") })
	}) {
		bad("the image must create %s owned by the user %s (COPY --chown)", dir, user)
	}
	return p
}

func goModVersion(t testing.TB) string {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// TestDockerfile checks the image, and that the image, compose.yaml and the
// Deployment agree on the user and the data directory.
func TestDockerfile(t *testing.T) {
	im := loadImage(t)
	for _, p := range im.check(goModVersion(t)) {
		t.Error(p)
	}
	user, dir := im.last("USER"), im.env["HOTLINE_DATA_DIR"]
	uid, _, _ := strings.Cut(user, ":")
	c, err := readCompose(composePath)
	if err != nil {
		t.Fatal(err)
	}
	if got := environment(c.Services["hotline"].Environment)["HOTLINE_DATA_DIR"]; got != dir {
		t.Errorf("compose.yaml: HOTLINE_DATA_DIR %q, the image's is %q", got, dir)
	}
	if u := c.Services["hotline"].User; u != user {
		t.Errorf("compose.yaml: user %q, the image's is %q", u, user)
	}
	k := loadK8s(t)
	for _, e := range k.deployments[0].obj.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "HOTLINE_DATA_DIR" && e.Value != dir {
			t.Errorf("deployment.yaml: HOTLINE_DATA_DIR %q, the image's is %q", e.Value, dir)
		}
	}
	if u := k.deployments[0].obj.Spec.Template.Spec.SecurityContext.RunAsUser; u == nil || strconv.Itoa(*u) != uid {
		t.Errorf("deployment.yaml: runAsUser %v, the image's user is %s", u, uid)
	}
}

// TestBadDockerfile: the checks find the mistakes of a broken Dockerfile.
func TestBadDockerfile(t *testing.T) {
	im, err := readImage(filepath.Join("testdata", "bad.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	problems := im.check(goModVersion(t))
	for _, want := range []string{
		"builds with Go 1.21",
		"want CGO_ENABLED=0",
		"lacks -trimpath",
		"lacks -ldflags",
		"lacks -tags timetzdata",
		"final stage FROM debian:bookworm-slim",
		`USER "root"`,
		"EXPOSE",
		"ENTRYPOINT",
		"must be a VOLUME",
		"owned by the user",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("testdata/bad.Dockerfile: want a problem with %q; got:\n%s", want, strings.Join(problems, "\n"))
		}
	}
}

// TestShellWords checks the reading of a Dockerfile's RUN line.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"TARGETOS": "linux", "TARGETARCH": "arm64"}
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/x ./cmd/x`,
			[]string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "go", "build", "-ldflags=-s -w", "-o", "/out/x", "./cmd/x"}, false},
		{`go build -ldflags '-s -w' -tags "timetzdata,netgo" .`, []string{"go", "build", "-ldflags", "-s -w", "-tags", "timetzdata,netgo", "."}, false},
		{`a\ b "c\"d" 'e$f'`, []string{"a b", `c"d`, "e$f"}, false},
		{`go mod download && go build ./x; true`, []string{"go", "mod", "download", "&&", "go", "build", "./x", ";", "true"}, false},
		{`GOOS=$UNKNOWN go build`, nil, true},
		{`go build -ldflags="-s`, nil, true},
	} {
		got, err := shellWords(tc.in, vars)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// shutdownTimeout reads how long the hotline waits for requests in hand at SIGTERM.
func shutdownTimeout(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hotlineSource, "serve.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`shutCtx, \w+ := context\.WithTimeout\([^,]+, (\d+) ?\* ?time\.Second\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("cmd/hotline/serve.go: cannot find the shutdown timeout (shutCtx); update shutdownTimeout and check the grace periods")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return time.Duration(n) * time.Second
}

// workersDrain is the room left after the HTTP shutdown for the turns in hand and for
// giving the shard leases back.
const workersDrain = 15 * time.Second

// TestGracePeriods: neither Kubernetes nor Docker may kill the hotline before it has
// finished shutting down.
func TestGracePeriods(t *testing.T) {
	need := shutdownTimeout(t) + workersDrain
	k := loadK8s(t)
	spec := k.deployments[0].obj.Spec.Template.Spec
	preStop := 0
	if lc := spec.Containers[0].Lifecycle; lc != nil && lc.PreStop != nil && lc.PreStop.Sleep != nil {
		preStop = lc.PreStop.Sleep.Seconds
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second < need+time.Duration(preStop)*time.Second {
		t.Errorf("deployment.yaml: terminationGracePeriodSeconds %v; want at least %v (preStop %ds, HTTP shutdown, workers)", g, need+time.Duration(preStop)*time.Second, preStop)
	}
	c, err := readCompose(composePath)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := time.ParseDuration(c.Services["hotline"].StopGracePeriod); err != nil || g < need {
		t.Errorf("compose.yaml: stop_grace_period %q; want at least %v (Docker's default 10s kills it half way)", c.Services["hotline"].StopGracePeriod, need)
	}
}

// dockerignore is a .dockerignore's patterns, matched as Docker does: a path is out
// when the last pattern that matches it or one of its parent directories is not an
// exception (!).
type dockerignore []struct {
	re     *regexp.Regexp
	except bool
}

func readDockerignore(path string) (dockerignore, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dockerignore
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		except := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/")
		line = filepath.ToSlash(filepath.Clean(line))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re     *regexp.Regexp
			except bool
		}{regexp.MustCompile(re.String()), except})
	}
	return d, nil
}

// excluded reports whether the slash-separated relative path stays out of the context.
func (d dockerignore) excluded(path string) bool {
	out := false
	for _, p := range d {
		for dir := path; dir != "."; dir = filepath.Dir(dir) {
			if p.re.MatchString(dir) {
				out = !p.except
				break
			}
		}
	}
	return out
}

func TestDockerignore(t *testing.T) {
	d, err := readDockerignore(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		out  bool
	}{
		{".git/config", true},
		{"data/hotline.db", true},
		{"data/spool-host.jsonl", true},
		{"data/lookup.key", true},
		{"deploy/.env", true},
		{"deploy/k8s/secret.filled.yaml", true},
		{"cases/data/x.db", true},
		{"cmd/hotline/testdata/artefacts/console.png", true},
		{"hotline", true},
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/hotline/main.go", false},
		{"cases/migrations/0001_cases.sql", false},
		{"locales/active.ar.toml", false},
		{"handoff/console/static/console.js", false},
		{"cmd/hotline/hotline.go", false},
	} {
		if got := d.excluded(tc.path); got != tc.out {
			t.Errorf("%s: excluded = %v, want %v", tc.path, got, tc.out)
		}
	}
}

// buildContext copies the repository as `docker build` would send it: without what
// .dockerignore keeps out.
func buildContext(t testing.TB) string {
	t.Helper()
	d, err := readDockerignore(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case e.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case d.excluded(rel) || !e.Type().IsRegular():
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestImageBinary builds the hotline from the build context as the Dockerfile does
// (its `go build` line, its environment, .dockerignore applied), checks that the
// result is static, then runs it: it answers /healthz and stops cleanly on SIGTERM
// without writing outside its data directory, and it refuses to start on the
// unfilled Secret and env file rather than fall back to the embedded mode.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hotline")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux")
	}
	im := loadImage(t)
	src := buildContext(t)
	bin := filepath.Join(t.TempDir(), "hotline")
	args := slices.Clone(im.buildArgs)
	for i, a := range args {
		switch {
		case a == "-o":
			args[i+1] = bin
		case strings.HasPrefix(a, "-o="):
			args[i] = "-o=" + bin
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()
	// A cold build compiles every dependency again (-trimpath changes each package's
	// build): at low priority, so that the tests of other packages running alongside
	// keep their timing.
	build := exec.CommandContext(ctx, "go", args...)
	if nice, err := exec.LookPath("nice"); err == nil {
		build = exec.CommandContext(ctx, nice, append([]string{"-n", "10", "go"}, args...)...)
	}
	build.Dir = src
	// As in the golang image: no GOFLAGS, no workspace; then the Dockerfile's own.
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	build.Env = append(build.Env, im.buildEnv...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s in the build context: %v\n%s", strings.Join(args, " "), err, out)
	}

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("program header %v: the binary is dynamically linked", p.Type)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v", libs)
		}
		for _, s := range []string{".symtab", ".debug_info", ".zdebug_info"} {
			if f.Section(s) != nil {
				t.Errorf("section %s: the binary is not stripped (-ldflags=-s -w)", s)
			}
		}
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		// -ldflags is not recorded under -trimpath; the sections above show -s -w.
		for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
			if settings[k] != want {
				t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
			}
		}
		if !strings.Contains(settings["-tags"], "timetzdata") {
			t.Errorf("build tags %q lack timetzdata", settings["-tags"])
		}
		sqlite := false
		for _, m := range info.Deps {
			sqlite = sqlite || m.Path == "modernc.org/sqlite"
		}
		if !sqlite {
			t.Error("the binary does not hold modernc.org/sqlite, the pure-Go SQLite driver")
		}
	})

	t.Run("serves and stops", func(t *testing.T) {
		t.Parallel()
		var (
			work = t.TempDir()
			cwd  = filepath.Join(work, "cwd")
			home = filepath.Join(work, "home")
			data = filepath.Join(work, "data")
		)
		for _, d := range []string{cwd, home} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// The embedded mode, with the zone HOTLINE_HOURS names looked up.
		p := start(t, bin, cwd, "HOME="+home, "TMPDIR="+filepath.Join(work, "tmp"), "HOTLINE_DATA_DIR="+data,
			"HOTLINE_ADDR=127.0.0.1:0", "HOTLINE_HOURS=Mon-Fri 08:00-20:00 Europe/Rome")
		addr := p.waitListening(t)
		resp, err := http.Get(addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz: %s %s", resp.Status, body)
		}
		began := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.wait(t, shutdownTimeout(t)+workersDrain); err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, p.stderr.String())
		}
		t.Logf("stopped %v after SIGTERM", time.Since(began).Round(time.Millisecond))
		if !strings.Contains(p.stderr.String(), `"msg":"stopped"`) {
			t.Errorf("no clean stop in the log:\n%s", p.stderr.String())
		}
		// It wrote only in its data directory, and its spool is there.
		for _, d := range []string{cwd, home} {
			if entries, _ := os.ReadDir(d); len(entries) > 0 {
				t.Errorf("the hotline wrote in %s, outside its data directory: %v", d, entries)
			}
		}
		if locks, _ := filepath.Glob(filepath.Join(data, "spool-*.jsonl.lock")); len(locks) != 1 {
			t.Errorf("want the spool's lock in HOTLINE_DATA_DIR, found %v", locks)
		}
	})

	// Not filled in: the hotline must stop at once and say what is missing.
	k := loadK8s(t)
	secretEnv := func(overrides map[string]string) []string {
		env := map[string]string{}
		maps.Copy(env, k.configMaps[0].obj.Data)
		maps.Copy(env, k.secrets[0].obj.StringData)
		maps.Copy(env, overrides)
		var out []string
		for _, key := range sortedKeys(env) {
			out = append(out, key+"="+env[key])
		}
		return out
	}
	key := func() string {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	// Filled the way a test may fill them: nothing listens on port 1.
	filled := map[string]string{
		"REDIS_URL":          "redis://127.0.0.1:1/0",
		"DATABASE_URL":       "postgres://hotline@127.0.0.1:1/hotline?sslmode=disable&connect_timeout=2",
		"HOTLINE_LOOKUP_KEY": key(),
		"HOTLINE_DATA_KEYS":  "t1:" + key(),
	}
	ex, err := readEnvFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	c, err := readCompose(composePath)
	if err != nil {
		t.Fatal(err)
	}
	composeEnv := []string{}
	for _, k := range ex.keys {
		composeEnv = append(composeEnv, k+"=")
	}
	for k, v := range environment(c.Services["hotline"].Environment) {
		composeEnv = append(composeEnv, k+"="+interpolation.ReplaceAllString(v, "x"))
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"secret as committed", secretEnv(nil), "HOTLINE_LOOKUP_KEY"},
		{"secret without REDIS_URL", secretEnv(without(filled, "REDIS_URL")), "REDIS_URL"},
		{"secret without DATABASE_URL", secretEnv(without(filled, "DATABASE_URL")), "open database: open store: unsupported database URL scheme"},
		{"secret without HOTLINE_LOOKUP_KEY", secretEnv(without(filled, "HOTLINE_LOOKUP_KEY")), "HOTLINE_LOOKUP_KEY"},
		{"secret without HOTLINE_DATA_KEYS", secretEnv(without(filled, "HOTLINE_DATA_KEYS")), "HOTLINE_DATA_KEYS"},
		{"env example in compose", composeEnv, "HOTLINE_LOOKUP_KEY is required"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			p := start(t, bin, work, append(tc.env, "HOTLINE_DATA_DIR="+filepath.Join(work, "data"), "HOTLINE_ADDR=127.0.0.1:0")...)
			err := p.wait(t, 30*time.Second)
			if err == nil || strings.Contains(p.stdout.String(), "listening") {
				t.Fatalf("started (%v); want a refusal naming %s\n%s", err, tc.want, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("the refusal does not name %s:\n%s", tc.want, p.stderr.String())
			}
		})
	}
}

func without(filled map[string]string, key string) map[string]string {
	m := maps.Clone(filled)
	delete(m, key)
	return m
}

// process is a running hotline binary.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error
}

// start runs the binary in dir with only env (as in a container: nothing inherited).
func start(t *testing.T, bin, dir string, env ...string) *process {
	t.Helper()
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitListening returns the base URL the hotline printed once it listens.
func (p *process) waitListening(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.After(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.stdout.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("the hotline exited before listening: %v\n%s", err, p.stderr.String())
		case <-deadline:
			t.Fatalf("the hotline did not listen within 60s\n%s", p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wait returns the process's exit error, or fails the test after d.
func (p *process) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("still running after %v\n%s", d, p.stderr.String())
		return nil
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
