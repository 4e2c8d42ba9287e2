package boot

import (
	"regexp"
	"sort"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// RouteFor is the route a request for host and path on entrypoint takes by
// the route table's own rule: among the routes of that hostname and
// entrypoint that match, the one with the highest priority. ok is false
// when none matches.
func RouteFor(routes []plan.Route, entrypoint, host, path string) (route plan.Route, ok bool) {
	candidates := make([]plan.Route, 0, len(routes))
	for _, r := range routes {
		if r.Entrypoint == entrypoint && r.Host == host && routeMatches(r, path) {
			candidates = append(candidates, r)
		}
	}
	if len(candidates) == 0 {
		return plan.Route{}, false
	}
	sort.SliceStable(candidates, func(i, j int) bool { return candidates[i].Priority > candidates[j].Priority })
	return candidates[0], true
}

func routeMatches(r plan.Route, path string) bool {
	if r.PathPrefix != "" {
		return strings.HasPrefix(path, r.PathPrefix)
	}
	matched, err := regexp.MatchString(r.PathRegex, path)
	return err == nil && matched
}

// Services lists the units a route may send a request to.
func Services(r plan.Route) []string {
	var units []string
	for _, b := range r.Servers() {
		units = append(units, b.Service)
	}
	return units
}
