package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/matrixgen/matrixgen/internal/bundle"
	"github.com/matrixgen/matrixgen/internal/consumers"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/render"
)

// These tests run the generated install.sh for real, with --root pointing
// into a temporary directory. Commands that would change the machine itself
// (users, systemd, docker) are logging shims; file tools are the real ones,
// and nothing else is on PATH, so a new host command in install.sh fails
// here until it gets a shim instead of running against the test machine.

// installTimeout bounds one run of install.sh; with the shims it has
// nothing to wait for, so hitting it means it hangs. It is generous: on a
// machine busy with other builds, the bridges bundle's run alone has taken
// a minute.
const installTimeout = 10 * time.Minute

// realTools are the programs install.sh may run for real. The first ones
// are required: without them the script cannot run at all, and a test that
// skips would prove nothing.
var (
	requiredTools = []string{"sh", "awk", "tr", "head", "base64", "cat", "mkdir", "chmod", "cp", "mv", "cut", "wc", "dirname"}
	optionalTools = []string{"sleep", "rm", "ln", "touch", "sort", "grep", "sed", "sha256sum", "cmp", "basename", "stat", "od", "tail", "diff",
		"date", "find", "mktemp", "comm", "gzip", "rmdir", "openssl"}
)

// shimBodies are the host commands install.sh changes the machine with.
// Each shim appends its name and arguments to the log first. State (users,
// groups, networks) lives in $state, so a second run sees what the first
// one created, as on a real host.
var shimBodies = map[string]string{
	// systemctl keeps which units run and which are enabled, and answers
	// is-active, is-enabled and show from that as systemd does: is-* one
	// line a unit, show a block a unit with the properties asked for.
	"systemctl": `cmd=$1
shift
case $cmd in
start | restart) for u in "$@"; do case $u in -*) ;; *) : >"$state/active-$u" ;; esac; done ;;
stop) for u in "$@"; do rm -f "$state/active-$u"; done ;;
enable) for u in "$@"; do case $u in -*) ;; *) : >"$state/enabled-$u" ;; esac; done
	case " $* " in *" --now "*) for u in "$@"; do : >"$state/active-$u"; done ;; esac ;;
disable) for u in "$@"; do rm -f "$state/enabled-$u" "$state/active-$u"; done ;;
is-active | is-enabled)
	yes=active no=inactive file=active
	[ "$cmd" = is-enabled ] && yes=enabled no=disabled file=enabled
	rc=0
	for u in "$@"; do
		if [ -e "$state/$file-$u" ]; then echo "$yes"; else echo "$no"; rc=3; fi
	done
	exit "$rc"
	;;
show)
	properties=
	for u in "$@"; do case $u in --property=*) properties="$properties ${u#--property=}" ;; esac; done
	for u in "$@"; do
		case $u in -*) continue ;; esac
		for p in $properties; do
			case $p in
			Id) echo "Id=$u" ;;
			ActiveState) if [ -e "$state/active-$u" ]; then echo ActiveState=active; else echo ActiveState=inactive; fi ;;
			UnitFileState) if [ -e "$state/enabled-$u" ]; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi ;;
			esac
		done
		echo
	done
	;;
esac
exit 0`,
	"chown": `exit 0`,
	// journalctl prints what a test put in $state/journal-UNIT.
	"journalctl": `unit=
while [ $# -gt 0 ]; do
	[ "$1" = -u ] && unit=$2
	shift
done
if [ -e "$state/journal-$unit" ]; then cat "$state/journal-$unit"; else echo '-- No entries --'; fi`,
	"groupadd": `gid=1000
while [ $# -gt 1 ]; do
	[ "$1" = --gid ] && gid=$2
	shift
done
printf '%s\n' "$gid" >"$state/group-$1"`,
	"useradd": `uid=1000
while [ $# -gt 1 ]; do
	[ "$1" = --uid ] && uid=$2
	shift
done
printf '%s\n' "$uid" >"$state/user-$1"`,
	"getent": `[ "$1" = group ] && [ -e "$state/group-$2" ] || exit 2
read -r gid <"$state/group-$2"
printf '%s:x:%s:\n' "$2" "$gid"`,
	"id": `[ "$1" = -u ] || exit 1
if [ $# -eq 1 ]; then
	echo 0
	exit 0
fi
if [ ! -e "$state/user-$2" ]; then
	printf "id: '%s': no such user\n" "$2" >&2
	exit 1
fi
read -r uid <"$state/user-$2"
printf '%s\n' "$uid"`,
	// docker keeps the images it pulled, and images a test put there, as
	// files named after the reference.
	"docker": `image_file() { printf '%s/image-%s' "$state" "$(printf '%s' "$1" | tr '/:@' '___')"; }
case $1 in
image)
	[ "$2" = inspect ] || exit 1
	shift 2
	for image in "$@"; do [ -e "$(image_file "$image")" ] || exit 1; done
	;;
pull) : >"$(image_file "$3")" ;;
network)
	# The network's name is the last argument; its file holds its subnets
	# as docker network inspect --format prints them: "subnet gateway".
	eval "name=\${$#}"
	case $2 in
	ls)
		for f in "$state"/network-*; do
			[ ! -e "$f" ] || printf '%s\n' "${f##*/network-}"
		done
		;;
	inspect)
		[ -e "$state/network-$name" ] || exit 1
		[ "$3" != --format ] || cat "$state/network-$name"
		;;
	create)
		: >"$state/network-$name"
		for a in "$@"; do
			case $a in
			--subnet=*) subnet=${a#--subnet=} ;;
			--gateway=*) printf '%s %s\n' "$subnet" "${a#--gateway=}" >>"$state/network-$name" ;;
			esac
		done
		;;
	esac
	;;
exec)
	if [ "$2" = -i ]; then
		cat >>"$state/exec-stdin"
		printf '%s\n' "${DB_PASSWORD-}" >>"$state/db-passwords"
	elif [ -e "$state/unhealthy-$2" ]; then
		exit 1
	fi
	;;
esac
exit 0`,
}

// testHost is one machine install.sh is applied to: a root directory, the
// shims and their log.
type testHost struct {
	root, bin, tools, state, log, home string
}

func newTestHost(t testing.TB) *testHost {
	t.Helper()
	dir := t.TempDir()
	h := &testHost{
		root:  filepath.Join(dir, "root"),
		bin:   filepath.Join(dir, "shims"),
		tools: filepath.Join(dir, "tools"),
		state: filepath.Join(dir, "state"),
		log:   filepath.Join(dir, "commands.log"),
		home:  filepath.Join(dir, "home"),
	}
	for _, d := range []string{h.root, h.bin, h.tools, h.state, h.home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range shimBodies {
		h.shim(t, name, body)
	}
	for _, tool := range append(slices.Clone(requiredTools), optionalTools...) {
		real, err := exec.LookPath(tool)
		if err != nil {
			if slices.Contains(requiredTools, tool) {
				t.Fatalf("%s is not installed, and install.sh cannot run without it: %v", tool, err)
			}
			continue
		}
		if err := os.Symlink(real, filepath.Join(h.tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// shim writes a logging stand-in for a host command; body runs after the
// call is logged, with $log and $state set.
func (h *testHost) shim(t testing.TB, name, body string) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\nlog=%s\nstate=%s\n{ printf '%%s' %s; for a in \"$@\"; do printf ' %%s' \"$a\"; done; printf '\\n'; } >>\"$log\"\n%s\n",
		shQuote(h.log), shQuote(h.state), name, body)
	if err := os.WriteFile(filepath.Join(h.bin, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// at is where a host path is under the root.
func (h *testHost) at(hostPath string) string {
	return filepath.Join(h.root, filepath.FromSlash(hostPath))
}

func (h *testHost) logLines(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(h.log)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// installRun is the outcome of one run of install.sh.
type installRun struct {
	args           []string
	code           int
	stdout, stderr string
	// commands are the shim calls of this run, in order.
	commands []string
}

func (r installRun) String() string {
	return fmt.Sprintf("install.sh %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

func (r installRun) mustSucceed(t testing.TB) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
}

func (r installRun) mustFail(t *testing.T, wants ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("install.sh succeeded, want a failure mentioning %q\n%s", wants, r)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("install.sh's error does not mention %q\n%s", w, r)
		}
	}
}

// index is the position of the first command with prefix, or -1.
func (r installRun) index(prefix string) int {
	return slices.IndexFunc(r.commands, func(c string) bool { return c == prefix || strings.HasPrefix(c, prefix+" ") })
}

// started is the position of the systemctl start command that starts unit,
// alone or with others, or -1.
func (r installRun) started(unit string) int {
	return slices.IndexFunc(r.commands, func(c string) bool {
		rest, ok := strings.CutPrefix(c, "systemctl start ")
		return ok && slices.Contains(strings.Fields(rest), unit+".service")
	})
}

// install runs bundleDir/install.sh --root h.root args... under the umask
// root usually has, so that modes do not depend on the developer's.
func (h *testHost) install(t testing.TB, bundleDir string, args ...string) installRun {
	t.Helper()
	return h.runScript(t, filepath.Join(bundleDir, "install.sh"), args...)
}

// runScript runs one of the bundle's scripts as install does install.sh.
func (h *testHost) runScript(t testing.TB, script string, args ...string) installRun {
	t.Helper()
	return h.runScriptInput(t, "", script, args...)
}

// runScriptInput runs a script with stdin as its standard input.
func (h *testHost) runScriptInput(t testing.TB, stdin, script string, args ...string) installRun {
	t.Helper()
	before := len(h.logLines(t))
	args = append([]string{"--root", h.root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.tools, "sh"),
		append([]string{"-c", `umask 022 && exec sh "$@"`, "sh", script}, args...)...)
	cmd.Env = []string{"PATH=" + h.bin + ":" + h.tools, "LC_ALL=C", "HOME=" + h.home, "TMPDIR=" + h.home}
	cmd.Dir = h.home
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("install.sh %q did not finish within %s\nstdout:\n%s\nstderr:\n%s", args, installTimeout, stdout.String(), stderr.String())
	}
	r := installRun{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running install.sh: %v", err)
	}
	r.commands = h.logLines(t)[before:]
	return r
}

// builtBundle is an example compiled and written as matrixgen build does.
type builtBundle struct {
	name string
	res  *Result
	out  string
}

func writeBundle(t testing.TB, name string, res *Result) builtBundle {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if err := bundle.Write(out, res.Tree); err != nil {
		t.Fatal(err)
	}
	return builtBundle{name: name, res: res, out: out}
}

func (b builtBundle) host() plan.Host { return b.res.Plan.Host }

func (b builtBundle) secretPath(s plan.Secret) string { return secretHostPath(b.host(), s) }

// fileSecrets are the secrets install.sh fills into the host file at path.
func (b builtBundle) fileSecrets(path string) []string {
	for _, f := range b.res.Plan.Files {
		if f.Path == path {
			return f.Secrets
		}
	}
	return nil
}

func (b builtBundle) secretsOf(kind plan.SecretKind) []plan.Secret {
	var out []plan.Secret
	for _, s := range b.res.Plan.Secrets {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// providedValue is what the operator put in place of a provided secret. It
// uses characters install.sh accepts beyond letters and digits, to show they
// arrive intact.
func providedValue(name string) string {
	return "Pr0vided-" + strings.ReplaceAll(name, "-", "") + "!#%&*,:=?@^~+/._"
}

func writeSecret(t testing.TB, path, value string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
}

// provide puts every provided secret in place, as the operator must
// before the first run.
func (b builtBundle) provide(t testing.TB, h *testHost) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, s := range b.secretsOf(plan.Provided) {
		values[s.Name] = providedValue(s.Name)
		writeSecret(t, h.at(b.secretPath(s)), values[s.Name])
	}
	for _, s := range b.secretsOf(plan.ProvidedKey) {
		values[s.Name] = pemStandIn(s.Name)
		writeSecret(t, h.at(b.secretPath(s)), values[s.Name])
	}
	return values
}

// readSecrets reads every secret of the plan from the host.
func (b builtBundle) readSecrets(t *testing.T, h *testHost) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, s := range b.res.Plan.Secrets {
		data, err := os.ReadFile(h.at(b.secretPath(s)))
		if err != nil {
			t.Fatalf("secret %s: %v", s.Name, err)
		}
		values[s.Name] = string(data)
	}
	return values
}

// snapshot records every file and directory under dir with its mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %04o", info.Mode().Perm())
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %04o %q", info.Mode().Perm(), data)
		default:
			out[rel] = info.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// grepTree lists the files under dir that contain needle.
func grepTree(t *testing.T, dir, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(needle)) {
			rel, _ := filepath.Rel(dir, p)
			hits = append(hits, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

var signingKeyRE = regexp.MustCompile(`^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n$`)

// forEachExample runs f for every example in parallel, each on its own host.
func forEachExample(t *testing.T, f func(t *testing.T, b builtBundle, h *testHost)) {
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, writeBundle(t, name, buildExample(t, name)), newTestHost(t))
		})
	}
}

func TestInstallFresh(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		provided := b.provide(t, h)
		r := h.install(t, b.out)
		r.mustSucceed(t)
		secrets := b.readSecrets(t, h)
		b.checkNewSecrets(t, h, secrets, provided)
		b.checkInstalled(t, h, secrets)
		b.checkUser(t, h, r)
		b.checkStartOrder(t, r)
		b.checkDatabases(t, h, r, secrets)
		for name, v := range secrets {
			for _, out := range []string{r.stdout, r.stderr, strings.Join(r.commands, "\n")} {
				if strings.Contains(out, strings.TrimSpace(v)) {
					t.Errorf("the value of secret %s is printed or on a command line:\n%s", name, out)
				}
			}
		}
	})
}

// checkNewSecrets asserts what install.sh makes of missing secrets.
func (b builtBundle) checkNewSecrets(t *testing.T, h *testHost, secrets, provided map[string]string) {
	t.Helper()
	if info, err := os.Stat(h.at(b.host().SecretsDir)); err != nil {
		t.Errorf("secrets directory: %v", err)
	} else if info.Mode().Perm() != 0o700 {
		t.Errorf("secrets directory %s has mode %04o, want 0700", b.host().SecretsDir, info.Mode().Perm())
	}
	for _, s := range b.res.Plan.Secrets {
		p := b.secretPath(s)
		info, err := os.Stat(h.at(p))
		if err != nil {
			t.Errorf("secret %s: %v", s.Name, err)
			continue
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("secret %s at %s has mode %04o, want 0600", s.Name, p, info.Mode().Perm())
		}
		v := secrets[s.Name]
		switch s.Kind {
		case plan.RandomToken:
			if !regexp.MustCompile(fmt.Sprintf(`^[A-Za-z0-9]{%d}$`, s.Length)).MatchString(v) || s.Length != 48 {
				t.Errorf("secret %s = %q, want %d letters and digits (48 expected)", s.Name, v, s.Length)
			}
		case plan.SigningKey:
			if !signingKeyRE.MatchString(v) {
				t.Errorf("signing key %s = %q, want %s", p, v, signingKeyRE)
			}
		case plan.Provided, plan.ProvidedKey:
			if v != provided[s.Name] {
				t.Errorf("provided secret %s = %q, want the operator's %q", s.Name, v, provided[s.Name])
			}
		case plan.RSAKey:
			if err := checkRSAKey(v, s.Length); err != nil {
				t.Errorf("RSA key %s: %v", p, err)
			}
		case plan.ECKey:
			if err := checkECKey(v); err != nil {
				t.Errorf("EC key %s: %v", p, err)
			}
		case plan.HexKey:
			if !regexp.MustCompile(fmt.Sprintf(`^[0-9a-f]{%d}$`, s.Length)).MatchString(v) {
				t.Errorf("secret %s = %q, want exactly %d hex digits and no newline", s.Name, v, s.Length)
			}
		}
	}
}

type manifestLine struct {
	sum  string
	mode fs.FileMode
	path string
}

func readManifest(t *testing.T, out string) []manifestLine {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []manifestLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("MANIFEST line %q: want sha256, mode, path, units", sc.Text())
		}
		mode, err := strconv.ParseUint(fields[1], 8, 32)
		if err != nil {
			t.Fatalf("MANIFEST line %q: %v", sc.Text(), err)
		}
		lines = append(lines, manifestLine{fields[0], fs.FileMode(mode), fields[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatal("empty MANIFEST")
	}
	return lines
}

// checkInstalled compares the host with the bundle: every file of the
// MANIFEST at its path with its mode, holding the bundle's bytes with the
// host's secrets where the placeholders were.
func (b builtBundle) checkInstalled(t *testing.T, h *testHost, secrets map[string]string) {
	t.Helper()
	fill := func(name string) string {
		v, ok := secrets[name]
		if !ok {
			t.Errorf("placeholder of unknown secret %s", name)
		}
		return strings.TrimRight(v, "\n") // as install.sh reads it: a key file ends with one
	}
	for _, m := range readManifest(t, b.out) {
		data, err := os.ReadFile(filepath.Join(b.out, filepath.FromSlash(m.path)))
		if err != nil {
			t.Errorf("MANIFEST lists %s: %v", m.path, err)
			continue
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != m.sum {
			t.Errorf("%s: sha256 differs from the MANIFEST", m.path)
		}
		if !strings.Contains(m.path, "/") || strings.HasPrefix(m.path, "proxy/") {
			continue // the bundle's own scripts and the own webserver's configs stay in the bundle
		}
		installed := h.at(m.path)
		info, err := os.Stat(installed)
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if info.Mode().Perm() != m.mode {
			t.Errorf("/%s installed with mode %04o, MANIFEST says %04o", m.path, info.Mode().Perm(), m.mode)
		}
		got, err := os.ReadFile(installed)
		if err != nil {
			t.Fatal(err)
		}
		if want := fillPlaceholders(data, fill); !bytes.Equal(got, want) {
			t.Errorf("/%s installed as\n%s\nwant\n%s", m.path, got, want)
		}
	}
	// The copies of applied bundles install.sh keeps are bundles, with
	// placeholders; every installed file has them filled.
	kept := filepath.Join(strings.TrimPrefix(b.host().DataDir, "/"), "matrixgen")
	for _, hit := range grepTree(t, h.root, "__MATRIXGEN_SECRET_") {
		if !strings.HasPrefix(hit, filepath.Join(kept, "current")+"/") && !strings.HasPrefix(hit, filepath.Join(kept, "previous")+"/") {
			t.Errorf("placeholders left on the host in %s", hit)
		}
	}
	for _, d := range b.res.Plan.Dirs {
		info, err := os.Stat(h.at(d.Path))
		if err != nil || !info.IsDir() || info.Mode().Perm() != d.Mode.Perm() {
			t.Errorf("directory %s: %v, want mode %04o", d.Path, err, d.Mode.Perm())
		}
	}

	for _, p := range b.res.Tree.Paths() {
		if strings.HasSuffix(p, "/homeserver.yaml") {
			raw := databasePassword(t, p, b.res.Tree[p].Data)
			names := placeholderNames([]byte(raw))
			installed, err := os.ReadFile(h.at("/" + p))
			if err != nil {
				t.Fatal(err)
			}
			if got := databasePassword(t, p, installed); len(names) != 1 || got != secrets[names[0]] {
				t.Errorf("installed /%s: database password %q, want the value of %q", p, got, names)
			}
		}
	}

	hostEnv := h.at(render.HostEnvFile(b.host()))
	data, err := os.ReadFile(hostEnv)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := "1000", "1000"
	if b.host().UID != nil {
		uid = strconv.Itoa(*b.host().UID)
	}
	if b.host().GID != nil {
		gid = strconv.Itoa(*b.host().GID)
	}
	if want := fmt.Sprintf("MATRIX_UID=%s\nMATRIX_GID=%s\n", uid, gid); string(data) != want {
		t.Errorf("%s = %q, want %q", render.HostEnvFile(b.host()), data, want)
	}
	if info, err := os.Stat(hostEnv); err == nil && info.Mode().Perm()&0o022 != 0 {
		t.Errorf("%s has mode %04o: whoever can write it picks the uid containers run as", render.HostEnvFile(b.host()), info.Mode().Perm())
	}
	domainFile := h.at(b.host().DataDir + "/matrixgen/domain")
	if data, err := os.ReadFile(domainFile); err != nil || string(data) != b.host().Domain+"\n" {
		t.Errorf("domain file: %q, %v; want %q", data, err, b.host().Domain+"\n")
	}
}

func databasePassword(t *testing.T, p string, data []byte) string {
	t.Helper()
	var hs struct {
		Database struct {
			Args struct {
				Password string `yaml:"password"`
			} `yaml:"args"`
		} `yaml:"database"`
	}
	if err := yaml.Unmarshal(data, &hs); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return hs.Database.Args.Password
}

// checkUser asserts that a fresh host gets the matrix group and user, with
// the fixed ids when the config sets them, and that directories and new
// secrets get the owners the containers reading them run as.
func (b builtBundle) checkUser(t *testing.T, h *testHost, r installRun) {
	t.Helper()
	host := b.host()
	g, u := r.index("groupadd"), r.index("useradd")
	if g < 0 || u < 0 || g > u {
		t.Fatalf("want groupadd, then useradd; commands:\n%s", strings.Join(r.commands, "\n"))
	}
	groupadd, useradd := strings.Fields(r.commands[g]), strings.Fields(r.commands[u])
	if groupadd[len(groupadd)-1] != host.Group || !slices.Contains(groupadd, "--system") {
		t.Errorf("%q: want a system group %s", r.commands[g], host.Group)
	}
	if useradd[len(useradd)-1] != host.User || !slices.Contains(useradd, "--system") || !slices.Contains(useradd, "/usr/sbin/nologin") {
		t.Errorf("%q: want a system user %s without a login shell", r.commands[u], host.User)
	}
	if host.UID != nil && !strings.Contains(r.commands[u], fmt.Sprintf("--uid %d", *host.UID)) {
		t.Errorf("%q: want --uid %d", r.commands[u], *host.UID)
	}
	if host.GID != nil && !strings.Contains(r.commands[g], fmt.Sprintf("--gid %d", *host.GID)) {
		t.Errorf("%q: want --gid %d", r.commands[g], *host.GID)
	}
	owner := host.User + ":" + host.Group
	for _, d := range b.res.Plan.Dirs {
		want := d.Owner
		switch d.Owner {
		case "":
			want = owner
		case "root":
			want = "root:root"
		}
		// One chown for each owner, its directories as arguments.
		given := slices.ContainsFunc(r.commands, func(c string) bool {
			args, ok := strings.CutPrefix(c, "chown "+want+" ")
			return ok && slices.Contains(strings.Fields(args), h.at(d.Path))
		})
		if !given {
			t.Errorf("directory %s is not given to %s (no chown %s with it)", d.Path, want, want)
		}
	}
	for _, s := range b.res.Plan.Secrets {
		if s.Kind == plan.Provided || s.Kind == plan.ProvidedKey {
			continue // the operator's file, which install.sh only reads
		}
		want := "chown " + owner + " " + h.at(b.secretPath(s)) + ".new"
		if !slices.Contains(r.commands, want) {
			t.Errorf("secret %s is not given to %s (no %q)", s.Name, owner, want)
		}
	}
}

// checkStartOrder asserts that units are reloaded, enabled and started in
// dependency order, after their networks and images are there.
func (b builtBundle) checkStartOrder(t *testing.T, r installRun) {
	t.Helper()
	all := strings.Join(r.commands, "\n")
	reload, enable := r.index("systemctl daemon-reload"), r.index("systemctl enable")
	start := map[string]int{}
	first := len(r.commands)
	for _, s := range b.res.Plan.Services {
		start[s.Unit] = r.started(s.Unit)
		if start[s.Unit] < 0 {
			t.Errorf("%s is never started:\n%s", s.Unit, all)
			continue
		}
		first = min(first, start[s.Unit])
		if enable < 0 || !slices.Contains(strings.Fields(r.commands[enable]), s.Unit+".service") {
			t.Errorf("%s is not enabled:\n%s", s.Unit, all)
		}
	}
	// Enabled without a reload of its own, then one reload for both.
	if reload < 0 || enable > reload || first < reload || !strings.HasPrefix(r.commands[enable], "systemctl enable --no-reload ") {
		t.Errorf("want enable --no-reload, daemon-reload, then start:\n%s", all)
	}
	for _, s := range b.res.Plan.Services {
		for _, dep := range append(slices.Clone(s.Requires), s.Wants...) {
			if d, ok := start[dep]; ok && d >= start[s.Unit] {
				t.Errorf("%s is started before %s, which it needs:\n%s", s.Unit, dep, all)
			}
		}
	}
	pg, pgOK := start["matrix-postgres"]
	if syn, ok := start["matrix-synapse"]; ok && pgOK && pg > syn {
		t.Errorf("matrix-postgres started after matrix-synapse:\n%s", all)
	}
	for _, n := range b.res.Plan.Networks {
		i := slices.IndexFunc(r.commands, func(c string) bool {
			return strings.HasPrefix(c, "docker network create ") && strings.HasSuffix(c, " "+n)
		})
		if i < 0 || i > first {
			t.Errorf("network %s is not created before the units start:\n%s", n, all)
		}
	}
	for _, s := range b.res.Plan.Services {
		i := slices.IndexFunc(r.commands, func(c string) bool {
			return strings.HasPrefix(c, "docker pull ") && strings.HasSuffix(c, " "+s.Image)
		})
		if i < 0 || i > first {
			t.Errorf("image %s is not pulled before the units start:\n%s", s.Image, all)
		}
	}
	if r.index("docker info") != 0 {
		t.Errorf("docker info is not the first command, so a dead daemon is found late:\n%s", all)
	}
}

// checkDatabases asserts that each bundled database is created after its
// server started and before its owner starts, with the password handed over
// in the environment, never in SQL or on a command line.
func (b builtBundle) checkDatabases(t *testing.T, h *testHost, r installRun, secrets map[string]string) {
	t.Helper()
	dbs := b.res.Plan.Databases
	if len(dbs) == 0 {
		return
	}
	sql, _ := os.ReadFile(filepath.Join(h.state, "exec-stdin"))
	passwords, _ := os.ReadFile(filepath.Join(h.state, "db-passwords"))
	var want []string
	for _, db := range dbs {
		want = append(want, secrets[db.PasswordSecret])
		create := slices.IndexFunc(r.commands, func(c string) bool {
			return strings.HasPrefix(c, "docker exec -i -e DB_PASSWORD "+db.Server+" psql")
		})
		server, owner := r.started(db.Server), r.started(db.Owner)
		if create < 0 || create < server || (owner >= 0 && create > owner) {
			t.Errorf("database %s is not created between starting %s and %s:\n%s", db.Name, db.Server, db.Owner, strings.Join(r.commands, "\n"))
		}
		for _, w := range []string{"CREATE ROLE " + db.Role, "CREATE DATABASE " + db.Name + " OWNER " + db.Role} {
			if !bytes.Contains(sql, []byte(w)) {
				t.Errorf("the SQL sent to %s lacks %q:\n%s", db.Server, w, sql)
			}
		}
		if bytes.Contains(sql, []byte(secrets[db.PasswordSecret])) {
			t.Errorf("the SQL holds the password of %s itself", db.Role)
		}
	}
	if got := strings.Split(strings.TrimSuffix(string(passwords), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("DB_PASSWORD was %q, want the secrets %q", got, want)
	}
}

func TestInstallMigratedSecrets(t *testing.T) {
	imports := 0
	for _, name := range exampleNames(t) {
		for _, s := range buildExample(t, name).Plan.Secrets {
			if s.ImportFrom != "" {
				imports++
			}
		}
	}
	if imports == 0 {
		t.Fatal("no example sets synapse.signing_key_import, so importing is untested")
	}
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		// What an earlier installation leaves: every secret with its own
		// recognisable value, the signing key where the config imports it from.
		supplied := map[string]string{}
		var signingKey plan.Secret
		for _, s := range b.res.Plan.Secrets {
			switch s.Kind {
			case plan.SigningKey:
				signingKey = s
				supplied[s.Name] = "ed25519 a_m1gr " + base64.RawStdEncoding.EncodeToString([]byte("matrixgen-migrated-signing-key!!")) + "\n"
				at := b.secretPath(s)
				if s.ImportFrom != "" {
					at = s.ImportFrom
				}
				writeSecret(t, h.at(at), supplied[s.Name])
			case plan.HexKey:
				// install.sh refuses anything but the hex digits.
				supplied[s.Name] = strings.Repeat("0a", s.Length/2)
				writeSecret(t, h.at(b.secretPath(s)), supplied[s.Name])
			case plan.RSAKey, plan.ECKey, plan.ProvidedKey:
				// install.sh refuses a file that is no PEM key.
				supplied[s.Name] = pemStandIn("migrated-" + s.Name)
				writeSecret(t, h.at(b.secretPath(s)), supplied[s.Name])
			default:
				supplied[s.Name] = "MigratedSecretValue1234" + strings.ReplaceAll(s.Name, "-", "")
				writeSecret(t, h.at(b.secretPath(s)), supplied[s.Name])
			}
		}
		r := h.install(t, b.out)
		r.mustSucceed(t)
		if got := b.readSecrets(t, h); !maps.Equal(got, supplied) {
			t.Errorf("secrets after install:\n%q\nwant the existing ones:\n%q", got, supplied)
		}
		if signingKey.ImportFrom != "" {
			if want := "importing " + signingKey.Name + " from " + signingKey.ImportFrom; !strings.Contains(r.stdout, want) {
				t.Errorf("install.sh does not say %q\n%s", want, r)
			}
			if data, err := os.ReadFile(h.at(signingKey.ImportFrom)); err != nil || string(data) != supplied[signingKey.Name] {
				t.Errorf("the imported key at %s was changed: %q, %v", signingKey.ImportFrom, data, err)
			}
		}
		b.checkInstalled(t, h, supplied)

		// No secret in out/: neither install.sh nor anything else wrote one
		// into the bundle, nor does a build on a host that has them.
		rebuilt := buildExample(t, b.name)
		for name, v := range supplied {
			needle := v
			if name == signingKey.Name {
				needle = strings.Fields(v)[2]
			}
			if hits := grepTree(t, b.out, needle); len(hits) > 0 {
				t.Errorf("secret %s is in the bundle: %q", name, hits)
			}
			for p, e := range rebuilt.Tree {
				if bytes.Contains(e.Data, []byte(needle)) {
					t.Errorf("secret %s is in %s of a build made on this host", name, p)
				}
			}
			for _, out := range []string{r.stdout, r.stderr, strings.Join(r.commands, "\n")} {
				if strings.Contains(out, needle) {
					t.Errorf("secret %s is printed or on a command line:\n%s", name, out)
				}
			}
		}
	})
}

func TestInstallRerun(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		b.provide(t, h)
		h.install(t, b.out).mustSucceed(t)
		secrets := b.readSecrets(t, h)
		before := snapshot(t, h.root)
		r := h.install(t, b.out)
		r.mustSucceed(t)
		if got := b.readSecrets(t, h); !maps.Equal(got, secrets) {
			t.Errorf("a second run changed secrets:\n%q\nwas\n%q", got, secrets)
		}
		if after := snapshot(t, h.root); !maps.Equal(after, before) {
			for _, k := range slices.Sorted(maps.Keys(after)) {
				if before[k] != after[k] {
					t.Errorf("a second run changed %s:\n%s\nwas\n%s", k, after[k], before[k])
				}
			}
		}
		// docker exec -i: psql creating roles and databases.
		for _, c := range []string{"groupadd", "useradd", "docker network create", "docker exec -i"} {
			if i := r.index(c); i >= 0 {
				t.Errorf("a second run ran %q again", r.commands[i])
			}
		}
		if strings.Contains(r.stdout, "created secret") {
			t.Errorf("a second run created secrets:\n%s", r)
		}
	})
}

func TestInstallTwoHostsDiffer(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		other := newTestHost(t)
		b.provide(t, h)
		b.provide(t, other)
		h.install(t, b.out).mustSucceed(t)
		other.install(t, b.out).mustSucceed(t)
		one, two := b.readSecrets(t, h), b.readSecrets(t, other)
		for _, s := range b.res.Plan.Secrets {
			if s.Kind != plan.Provided && s.Kind != plan.ProvidedKey && one[s.Name] == two[s.Name] {
				t.Errorf("two fresh installs share secret %s: %q", s.Name, one[s.Name])
			}
		}
		var keys []string
		for _, s := range b.res.Plan.Secrets {
			if s.Kind == plan.RandomToken {
				keys = append(keys, one[s.Name])
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
			t.Errorf("one install made two equal secrets: %q", keys)
		}
	})
}

func TestInstallDryRun(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		provided := b.provide(t, h)
		before := snapshot(t, h.root)
		r := h.install(t, b.out, "--dry-run")
		r.mustSucceed(t)
		if after := snapshot(t, h.root); !maps.Equal(after, before) {
			t.Errorf("--dry-run changed the host:\n%q\nwas\n%q", after, before)
		}
		if len(provided) == 0 {
			if entries, _ := os.ReadDir(h.root); len(entries) > 0 {
				t.Errorf("--dry-run left %d entries in an empty root", len(entries))
			}
		}
		if d := mustDiff(t, b); d != "" {
			t.Errorf("--dry-run changed the bundle:\n%s", d)
		}
		for _, c := range r.commands {
			if c != "docker info" && !strings.HasPrefix(c, "docker network inspect ") && !strings.HasPrefix(c, "docker image inspect ") &&
				!strings.HasPrefix(c, "getent ") && !strings.HasPrefix(c, "id ") &&
				!strings.HasPrefix(c, "systemctl is-active ") && !strings.HasPrefix(c, "systemctl is-enabled ") &&
				!strings.HasPrefix(c, "systemctl show ") && c != "docker network ls --format {{.Name}}" {
				t.Errorf("--dry-run ran %q", c)
			}
		}
		for _, want := range []string{"would run: systemctl daemon-reload", "would run: systemctl start ", "would install /", "would create secret "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("--dry-run does not print %q\n%s", want, r)
			}
		}
	})
}

func mustDiff(t *testing.T, b builtBundle) string {
	t.Helper()
	d, err := bundle.Diff(b.out, b.res.Tree)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInstallNoStart(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		b.provide(t, h)
		r := h.install(t, b.out, "--no-start")
		r.mustSucceed(t)
		if r.index("systemctl daemon-reload") < 0 || r.index("systemctl enable") < 0 {
			t.Errorf("--no-start should still reload and enable:\n%s", strings.Join(r.commands, "\n"))
		}
		for _, c := range r.commands {
			if strings.HasPrefix(c, "systemctl start") || strings.HasPrefix(c, "systemctl restart") || strings.HasPrefix(c, "docker exec") {
				t.Errorf("--no-start ran %q", c)
			}
		}
		b.checkInstalled(t, h, b.readSecrets(t, h))
	})
}

func TestInstallOtherDomain(t *testing.T) {
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		domain := b.host().Domain
		const otherDomain = "elsewhere.test"
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", b.name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		res, problems := Run("examples/"+b.name+".yaml", bytes.ReplaceAll(data, []byte(domain), []byte(otherDomain)))
		if len(problems) > 0 {
			t.Fatalf("%s for %s: %v", b.name, otherDomain, problems)
		}
		other := writeBundle(t, b.name, res)
		if other.host().DataDir != b.host().DataDir {
			t.Fatalf("the other bundle has data_dir %s, want %s", other.host().DataDir, b.host().DataDir)
		}

		b.provide(t, h)
		other.provide(t, h)
		h.install(t, b.out, "--no-start").mustSucceed(t)
		before := snapshot(t, h.root)
		h.install(t, other.out).mustFail(t, domain, otherDomain, "--force")
		if after := snapshot(t, h.root); !maps.Equal(after, before) {
			t.Errorf("a refused install changed the host")
		}
		h.install(t, other.out, "--force", "--no-start").mustSucceed(t)
		got, err := os.ReadFile(h.at(b.host().DataDir + "/matrixgen/domain"))
		if err != nil || string(got) != otherDomain+"\n" {
			t.Errorf("after --force the host serves %q (%v), want %s", got, err, otherDomain)
		}
	})
}

func TestInstallForbiddenSecret(t *testing.T) {
	bad := []struct{ name, value string }{
		{"double quote", `abc"def`},
		{"backslash", `abc\def`},
		{"single quote", `abc'def`},
		{"space", "abc def"},
		{"dollar", "abc$def"},
		{"backtick", "abc`def"},
		{"newline inside", "abc\ndef"},
		{"non-ASCII", "abcédef"},
	}
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		random := b.secretsOf(plan.RandomToken)
		if len(random) == 0 {
			t.Fatal("no random secret to spoil")
		}
		victim := random[0]
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				h := newTestHost(t)
				b.provide(t, h)
				writeSecret(t, h.at(b.secretPath(victim)), tc.value)
				h.install(t, b.out).mustFail(t, b.secretPath(victim), "characters other than")
				for _, f := range b.res.Plan.Files {
					if _, err := os.Stat(h.at(f.Path)); err == nil {
						t.Errorf("%s was installed although a secret is unusable", f.Path)
					}
				}
			})
		}
	})
}

func TestInstallProvidedSecret(t *testing.T) {
	provided := 0
	for _, name := range exampleNames(t) {
		for _, s := range buildExample(t, name).Plan.Secrets {
			if s.Kind == plan.Provided || s.Kind == plan.ProvidedKey {
				provided++
			}
		}
	}
	if provided == 0 {
		t.Fatal("no example has a provided secret, so install.sh's handling of them is untested")
	}
	forEachExample(t, func(t *testing.T, b builtBundle, h *testHost) {
		secrets := append(b.secretsOf(plan.Provided), b.secretsOf(plan.ProvidedKey)...)
		if len(secrets) == 0 {
			return // nothing to provide in this example; the guard above keeps this from being vacuous
		}
		for _, s := range secrets {
			h := newTestHost(t)
			b.provide(t, h)
			if err := os.Remove(h.at(b.secretPath(s))); err != nil {
				t.Fatal(err)
			}
			h.install(t, b.out).mustFail(t, "secret "+s.Name, "put it in "+b.secretPath(s))
		}

		values := b.provide(t, h)
		h.install(t, b.out, "--no-start").mustSucceed(t)
		for _, s := range secrets {
			used := false
			for _, f := range b.res.Plan.Files {
				if !slices.Contains(f.Secrets, s.Name) {
					continue
				}
				used = true
				data, err := os.ReadFile(h.at(f.Path))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(data, []byte(values[s.Name])) {
					t.Errorf("%s does not hold the provided %s:\n%s", f.Path, s.Name, data)
				}
			}
			for _, svc := range b.res.Plan.Services {
				if svc.EnvFile == "" {
					continue
				}
				env := consumers.DockerEnvFile(t, h.at(svc.EnvFile))
				for k, v := range env {
					if strings.Contains(v, "__MATRIXGEN_SECRET_") {
						t.Errorf("%s: %s=%s still a placeholder", svc.EnvFile, k, v)
					}
				}
				if slices.Contains(b.fileSecrets(svc.EnvFile), s.Name) && !slices.Contains(slices.Collect(maps.Values(env)), values[s.Name]) {
					t.Errorf("%s: docker reads %q, no variable holds the provided %s", svc.EnvFile, env, s.Name)
				}
			}
			// Or a container reads the secret's file itself.
			for _, svc := range b.res.Plan.Services {
				if slices.ContainsFunc(svc.Mounts, func(m plan.Mount) bool { return m.Source == b.secretPath(s) && m.ReadOnly }) {
					used = true
				}
			}
			// Or a host job's script reads the file (the backup repository's
			// password, which restic and borg read from it).
			if p := b.res.Plan.Backup; p != nil && p.PasswordFile == b.secretPath(s) {
				used = true
			}
			if !used {
				t.Errorf("provided secret %s is filled into no file and mounted into no container", s.Name)
			}
		}
	})
}
