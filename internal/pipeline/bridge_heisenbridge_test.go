package pipeline

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// heisenbridge has no config file to compare with an example.
func init() {
	upstreamBridges["heisenbridge"] = upstreamBridge{check: func(t *testing.T, b *consumerBundle, _, name string, reg map[string]any) {
		b.checkHeisenbridge(t, name, reg)
	}}
}

// checkHeisenbridge checks the registration as heisenbridge's own start
// does (heisenbridge/__main__.py, run), and its command line.
func (b *consumerBundle) checkHeisenbridge(t *testing.T, name string, reg map[string]any) {
	t.Helper()
	cfg := b.res.Config
	sender := fmt.Sprint(reg["sender_localpart"])
	ns, _ := reg["namespaces"].(map[string]any)
	users, _ := ns["users"].([]any)
	var puppets []map[string]any
	for _, u := range users {
		entry, _ := u.(map[string]any)
		if strings.Split(fmt.Sprint(entry["regex"]), ":")[0] != "@"+sender {
			puppets = append(puppets, entry)
		}
	}
	if len(puppets) != 1 {
		t.Fatalf("heisenbridge wants a single user namespace for puppets, the registration has %v", users)
	}
	if excl, _ := puppets[0]["exclusive"].(bool); !excl {
		t.Errorf("heisenbridge wants its user namespace exclusive")
	}
	if !regexp.MustCompile(`^@(.+)([\_/])\.[\*\+]:?`).MatchString(fmt.Sprint(puppets[0]["regex"])) {
		t.Errorf("heisenbridge wants a prefix regex like @irc_.*, not %v", puppets[0]["regex"])
	}
	if !registrationClaims(t, reg, "@"+cfg.Bridges[name].UsernamePrefix+"nick:"+cfg.Domain) {
		t.Errorf("the registration does not claim heisenbridge's users")
	}
	for _, key := range []string{"id", "url", "as_token", "hs_token"} {
		if fmt.Sprint(reg[key]) == "" || reg[key] == nil {
			t.Errorf("registration %s is not set", key)
		}
	}
	u, err := url.Parse(fmt.Sprint(reg["url"]))
	s, _ := b.service("matrix-" + name)
	if err != nil || u.Hostname() != s.Unit || !slices.ContainsFunc(s.Listens, func(l plan.Listen) bool { return fmt.Sprint(l.Port) == u.Port() }) {
		t.Errorf("registration url %v: not the bridge's listener", reg["url"])
	}
	// heisenbridge -c REGISTRATION [-o OWNER] [-v] HOMESERVER
	args := s.Command
	if len(args) < 3 || args[0] != "-c" || args[len(args)-1] != "http://matrix-synapse:8008" {
		t.Fatalf("command %q: want -c REGISTRATION ... HOMESERVER", args)
	}
	if src, _, ok := hostSource(s, args[1]); !ok || src != "/matrix/"+name+"/config/registration.yaml" {
		t.Errorf("-c %s is not the registration", args[1])
	}
	if i := slices.Index(args, "-o"); i < 0 || args[i+1] != cfg.Bridges[name].Options["owner"] {
		t.Errorf("command %q: the owner is not set", args)
	}
	// Its media proxy is routed on the homeserver's hostname.
	r, _, ok := b.routeServing(plan.EntrypointClient, cfg.Hostnames.Homeserver, "/_heisenbridge/media/example.org/abc/xyz")
	if !ok || r.Service != s.Unit {
		t.Errorf("/_heisenbridge/media is not routed to %s (%v)", s.Unit, r)
	}
	media, _ := reg["heisenbridge"].(map[string]any)
	if m, _ := url.Parse(fmt.Sprint(media["media_url"])); m == nil || m.Host != cfg.Hostnames.Homeserver {
		t.Errorf("heisenbridge.media_url %v: not the homeserver's hostname", media["media_url"])
	}
}
