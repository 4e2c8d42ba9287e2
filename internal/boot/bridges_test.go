//go:build e2e

package boot

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matrixgen/matrixgen/internal/plan"
	"go.yaml.in/yaml/v3"
)

// testBridges boots the bridges example as written: every bridge and bot
// behind Traefik. No bridge's or bot's image can be built here, so the
// standin's appservice role runs in their place (docs/testing.md). What is
// proven is the bundle's part: install.sh sets every one up on a fresh
// host (its provided secrets in place, its database created, its unit
// healthy), and the real Synapse loads every registration and reaches
// every appservice at the address the registration gives, with the tokens
// install.sh made.
func testBridges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	b, err := Build(examplePath("bridges"), settings("bridges", "traefik"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := freshHost(ctx, t, b, "traefik")
	putProvidedSecrets(ctx, t, s)
	started := time.Now()
	installFirst(ctx, t, s)
	s.waitForAPI(ctx, t)
	t.Logf("figure: fresh install of %d units to the first client request answered: %.1f s",
		len(b.Result.Plan.Services), time.Since(started).Seconds())

	registerUsers(ctx, t, s, "alice", "bob")
	t.Run("conversation", func(t *testing.T) { converse(ctx, t, s, "alice", "bob") })
	t.Run("units", func(t *testing.T) { checkUnitsActive(ctx, t, s) })
	t.Run("databases", func(t *testing.T) { checkDatabases(ctx, t, s) })
	t.Run("appservices", func(t *testing.T) { checkAppservices(ctx, t, s) })
}

// putProvidedSecrets puts in place the secrets an operator provides (API
// keys of outside services, bots' access tokens): install.sh stops
// without them.
func putProvidedSecrets(ctx context.Context, t *testing.T, s *server) {
	p := s.bundle.Result.Plan
	for _, secret := range p.Secrets {
		var value string
		switch secret.Kind {
		case plan.Provided:
			value = randomHex(t, 24) + "\n"
		case plan.ProvidedKey:
			value = rsaKeyPEM(t)
		default:
			continue
		}
		file := secret.Path
		if file == "" {
			file = path.Join(p.Host.SecretsDir, secret.Name)
		}
		script := `mkdir -p "$(dirname "$1")" && umask 077 && cat >"$1"`
		if _, err := s.host.Run(ctx, strings.NewReader(value), "sh", "-c", script, "sh", file); err != nil {
			t.Fatal(err)
		}
		t.Logf("provided secret %s in %s", secret.Name, file)
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func rsaKeyPEM(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// checkUnitsActive: every unit of the bundle runs.
func checkUnitsActive(ctx context.Context, t *testing.T, s *server) {
	for _, svc := range s.bundle.Result.Plan.Services {
		if state, _ := s.host.Output(ctx, "systemctl", "is-active", svc.Unit+".service"); strings.TrimSpace(state) != "active" {
			t.Errorf("%s is %s\n%s", svc.Unit, strings.TrimSpace(state), s.host.Journal(ctx, svc.Unit))
		}
	}
}

// checkDatabases: every database the plan declares exists on its server,
// owned by its role.
func checkDatabases(ctx context.Context, t *testing.T, s *server) {
	for _, db := range s.bundle.Result.Plan.Databases {
		owner, err := s.host.Output(ctx, "docker", "exec", db.Server, "psql", "-U", db.Superuser, "-d", "postgres", "-Atc",
			"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '"+db.Name+"'")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(owner); got != db.Role {
			t.Errorf("database %s of %s on %s: owner %q, want %q", db.Name, db.Owner, db.Server, got, db.Role)
		}
	}
}

// registration is what the check reads of an appservice registration.
type registration struct {
	ID              string `yaml:"id"`
	URL             string `yaml:"url"`
	ASToken         string `yaml:"as_token"`
	SenderLocalpart string `yaml:"sender_localpart"`
}

// checkAppservices asks Synapse to ping each appservice it has a
// registration for (the appservice ping API, with the appservice's own
// token): Synapse answers only when it loaded the registration, the token
// is the one it holds, and the appservice answered at the registration's
// url with the token Synapse presents.
func checkAppservices(ctx context.Context, t *testing.T, s *server) {
	files := appserviceFiles(t, s.bundle)
	if len(files) == 0 {
		t.Fatal("homeserver.yaml lists no appservice registration")
	}
	for _, file := range files {
		data, err := s.host.Output(ctx, "docker", "exec", s.bundle.Result.Plan.Homeserver.Unit, "cat", file)
		if err != nil {
			t.Fatalf("the registration %s, as Synapse sees it: %v", file, err)
		}
		var reg registration
		if err := yaml.Unmarshal([]byte(data), &reg); err != nil || reg.ID == "" || reg.ASToken == "" {
			t.Fatalf("registration %s: %v\n%s", file, err, data)
		}
		if reg.URL == "" {
			// Synapse sends nothing to a registration without a url (the
			// double-puppeting one): it can only be used, not pinged.
			checkAppserviceToken(ctx, t, s, file, reg)
			continue
		}
		url := s.homeserver + "/_matrix/client/v1/appservice/" + reg.ID + "/ping"
		r, err := s.web.Do(ctx, http.MethodPost, url, reg.ASToken, strings.NewReader("{}"), 2)
		if err != nil {
			t.Fatal(err)
		}
		var pong struct {
			DurationMS *int `json:"duration_ms"`
		}
		if r.Status != http.StatusOK || r.JSON(&pong) != nil || pong.DurationMS == nil {
			t.Errorf("ping of appservice %s (%s, at %s): %s", reg.ID, file, reg.URL, r)
			continue
		}
		t.Logf("appservice %s (%s) answered Synapse's ping in %d ms", reg.ID, reg.URL, *pong.DurationMS)
	}
}

// checkAppserviceToken asks Synapse who the registration's token is: its
// sender, when Synapse loaded the registration with that token.
func checkAppserviceToken(ctx context.Context, t *testing.T, s *server, file string, reg registration) {
	r, err := s.web.Do(ctx, http.MethodGet, s.homeserver+"/_matrix/client/v3/account/whoami", reg.ASToken, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var who struct {
		UserID string `json:"user_id"`
	}
	want := "@" + reg.SenderLocalpart + ":" + s.domain
	if r.Status != http.StatusOK || r.JSON(&who) != nil || who.UserID != want {
		t.Errorf("appservice %s (%s) without a url: whoami with its token answered %s, want %s", reg.ID, file, r, want)
		return
	}
	t.Logf("appservice %s (no url) is known to Synapse as %s", reg.ID, who.UserID)
}

// appserviceFiles lists the registrations homeserver.yaml names, as paths
// in Synapse's container.
func appserviceFiles(t *testing.T, b *Bundle) []string {
	data, err := os.ReadFile(filepath.Join(b.Dir, strings.TrimPrefix(b.Result.Plan.Host.DataDir, "/"), "synapse", "config", "homeserver.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hs struct {
		Files []string `yaml:"app_service_config_files"`
	}
	if err := yaml.Unmarshal(data, &hs); err != nil {
		t.Fatal(err)
	}
	return hs.Files
}
