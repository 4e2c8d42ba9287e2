package validate

import (
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/diag"
)

// oneTURNServer: a homeserver hands clients one set of TURN servers, and
// coturn.enabled makes it the bundle's own.
func oneTURNServer(c *config.Config, ix *index) diag.List {
	if c.Coturn.Enabled && c.Homeserver.TURN != nil {
		return diag.List{{Path: "homeserver.turn", Subject: ix.keyAt("homeserver.turn"),
			Summary: "homeserver.turn names a TURN server elsewhere while coturn.enabled runs one in the bundle, and the homeserver hands clients only one: remove homeserver.turn, or set coturn.enabled: false"}}
	}
	return nil
}

// oidcProviderChecks: Synapse refuses two providers with one idp_id and a
// provider without discovery that lacks its endpoints; a client secret
// belongs on the host, not in the config.
func oidcProviderChecks(c *config.Config, ix *index) diag.List {
	var out diag.List
	first := map[string]int{}
	for i, p := range c.Synapse.SSO.OIDCProviders {
		at := fmt.Sprintf("synapse.sso.oidc_providers.%d", i)
		if j, dup := first[p.IDPID]; dup {
			out = append(out, problem(ix, at+".idp_id", "idp_id %q is also the id of provider %d (line %d); each provider needs its own",
				p.IDPID, j, ix.at(fmt.Sprintf("synapse.sso.oidc_providers.%d.idp_id", j)).Start.Line)...)
		} else {
			first[p.IDPID] = i
		}
		if !p.Discover && (p.AuthorizationEndpoint == "" || p.TokenEndpoint == "") {
			out = append(out, problem(ix, at+".discover",
				"without discovery Synapse needs the provider's authorization_endpoint and token_endpoint; give both, or set discover: true")...)
		}
		for _, key := range []string{"client_secret", "client_secret_path"} {
			if _, ok := p.Extra[key]; ok {
				out = append(out, problem(ix, at+".extra."+key, "the client secret does not go into the config: put it in the host file %s, which Synapse reads", path.Join(c.Host.DataDir, "secrets", "synapse-oidc-"+p.IDPID+"-client-secret"))...)
			}
		}
	}
	return out
}

// synapseReadsSecretFiles: the bundle hands Synapse the secrets of TURN
// and OIDC as files, through options older releases do not know, and a
// Synapse that ignores them starts without the secret. An image pinned by
// digest or a tag that is not a release is the operator's to judge.
func synapseReadsSecretFiles(c *config.Config, ix *index) diag.List {
	have, ok := synapseRelease(c.Synapse.Image)
	if !ok {
		return nil
	}
	need := []struct {
		used    bool
		option  string
		release [3]int
	}{
		{c.Coturn.Enabled || c.Homeserver.TURN != nil, "turn_shared_secret_path", [3]int{1, 116, 0}},
		{len(c.Synapse.SSO.OIDCProviders) > 0, "client_secret_path of oidc_providers", [3]int{1, 91, 0}},
	}
	for _, n := range need {
		if n.used && olderThan(have, n.release) {
			return problem(ix, "synapse.image", "Synapse %d.%d.%d does not know %s, through which the bundle gives it a secret; use Synapse %d.%d.%d or later",
				have[0], have[1], have[2], n.option, n.release[0], n.release[1], n.release[2])
		}
	}
	return nil
}

var releaseTag = regexp.MustCompile(`:v?([0-9]+)\.([0-9]+)\.([0-9]+)$`)

// synapseRelease reads the release of an image tagged vX.Y.Z.
func synapseRelease(image string) ([3]int, bool) {
	m := releaseTag.FindStringSubmatch(image)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, true
}

func olderThan(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
