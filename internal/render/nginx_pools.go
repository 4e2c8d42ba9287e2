package render

import (
	"fmt"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// Variables the hashing pools read, set by the maps nginxPools writes.
const (
	nginxRoomVar = "$matrixgen_room"
	nginxUserVar = "$matrixgen_user"
)

// nginxPoolsWhy explains the upstream blocks and maps.
var nginxPoolsWhy = []string{
	"",
	"upstream matrixgen_*: Synapse's workers, one block per pool of routes.",
	"A pool spread by user hashes on the access token (Authorization: Bearer,",
	"else the access_token parameter), so that one session's syncs meet one",
	"worker's caches; a pool spread by room hashes on the room ID of the",
	"decoded path ($uri), so that \"!a:b\" and \"%21a%3Ab\" are one room, which",
	"pagination requires. Both hash consistently: a changed pool moves few",
	"keys. The rest go to the server with the fewest open requests. A server",
	"that failed a request is tried again after fail_timeout, so that one",
	"restarted in its pool's turn is back in the pool within that time.",
}

func nginxHasPools(p *plan.Plan) bool {
	for _, r := range p.Routes {
		if len(r.Backends) > 0 {
			return true
		}
	}
	return false
}

// nginxUpstreamName is a pool's upstream block: names from matrixgen,
// prefixed so they keep clear of the operator's own.
func nginxUpstreamName(pool string) string {
	return "matrixgen_" + strings.ReplaceAll(pool, "-", "_")
}

// nginxPools writes the maps the hashing policies read and one upstream
// block per pool, in name order, at the http level beside the servers.
func nginxPools(b *ngxBuilder, p *plan.Plan) []directive {
	pools := map[string]plan.Route{}
	for _, r := range p.Routes {
		if len(r.Backends) > 0 {
			if _, ok := pools[r.Pool]; !ok {
				pools[r.Pool] = r
			}
		}
	}
	if len(pools) == 0 {
		return nil
	}
	names := make([]string, 0, len(pools))
	uses := map[string]bool{}
	for name, r := range pools {
		names = append(names, name)
		uses[r.Balance.By] = true
	}
	sort.Strings(names)
	var out []directive
	if uses[plan.BalanceRoom] {
		m := block("map", []string{"$uri", nginxRoomVar},
			leaf(b.tok(escape.NginxLocationRegexp, plan.RoomIDPattern), "$1"),
			leaf("default", "$uri"))
		m.Comment = []string{"The room of a request, for the pools spread by room."}
		// nginx reads a regex key from a leading "~".
		m.Body[0].Name = "~" + m.Body[0].Name
		out = append(out, m)
	}
	if uses[plan.BalanceUser] {
		m := block("map", []string{"$http_authorization", nginxUserVar},
			leaf("~^Bearer[[:blank:]]+(.+)", "$1"),
			leaf("default", "$arg_access_token"))
		m.Comment = []string{"The access token of a request, for the pools spread by user."}
		out = append(out, m)
	}
	for _, name := range names {
		r := pools[name]
		var body []directive
		switch r.Balance.By {
		case plan.BalanceRoom:
			body = append(body, leaf("hash", nginxRoomVar, "consistent"))
		case plan.BalanceUser:
			body = append(body, leaf("hash", nginxUserVar, "consistent"))
		default:
			body = append(body, leaf("least_conn"))
		}
		for _, be := range r.Backends {
			body = append(body, leaf("server", b.tok(escape.NginxHostPort, be.Upstream),
				"max_fails=1", fmt.Sprintf("fail_timeout=%ds", p.Proxy.PoolRejoinSeconds)))
		}
		u := block("upstream", []string{b.tok(escape.Nginx, nginxUpstreamName(name))}, body...)
		u.Comment = []string{b.comment("%s: %s", name, r.Balance.By)}
		out = append(out, u)
	}
	return out
}
