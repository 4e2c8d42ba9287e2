package render

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/plan"
)

// What the configs for the operator's own nginx, Apache and Caddy share: a
// tree of directives written in each server's syntax, and the files they
// make.

// wellKnownPrefix is the Matrix discovery path (client-server and
// server-server specs), the one route the base domain's own website must
// forward.
const wellKnownPrefix = "/.well-known/matrix"

// directive is one directive of the output, or a block of them (an nginx
// block, an Apache section). Every string in Args is already a token:
// syntax spelled by matrixgen ($host, ^~, nocanon) or a value that went
// through the format's escape helper on the way in (firstError.tok), so
// the writer only joins them.
type directive struct {
	Comment []string // lines written as "# …" above the directive
	Name    string
	Args    []string
	Body    []directive
	IsBlock bool
}

func leaf(name string, args ...string) directive { return directive{Name: name, Args: args} }

func block(name string, args []string, body ...directive) directive {
	return directive{Name: name, Args: args, Body: body, IsBlock: true}
}

// syntax is how a format writes a directive and opens and closes a block,
// given the directive's words joined by spaces, what one level of
// indentation is, and where blank lines go.
type syntax struct {
	line, open func(words string) string
	close      func(name string) string
	indent     string
	// blankBefore tells whether a blank line goes between prev and d,
	// neighbours at depth.
	blankBefore func(prev, d directive, depth int) bool
}

// aroundBlocks puts a blank line around every block and before every
// comment, as nginx's and Apache's own example configs are laid out.
func aroundBlocks(prev, d directive, _ int) bool {
	return d.IsBlock || len(d.Comment) > 0 || prev.IsBlock
}

// writeConfig writes head as a comment, then the directives, a blank line
// around every block and before every comment.
func writeConfig(head []string, ds []directive, s syntax) []byte {
	var w strings.Builder
	for _, line := range head {
		if line == "" {
			w.WriteString("#\n")
			continue
		}
		w.WriteString("# " + line + "\n")
	}
	w.WriteString("\n")
	writeDirectives(&w, ds, 0, s)
	return []byte(w.String())
}

func writeDirectives(w *strings.Builder, ds []directive, depth int, s syntax) {
	indent := strings.Repeat(s.indent, depth)
	for i, d := range ds {
		if i > 0 && s.blankBefore(ds[i-1], d, depth) {
			w.WriteString("\n")
		}
		for _, c := range d.Comment {
			if c == "" {
				w.WriteString(indent + "#\n")
				continue
			}
			w.WriteString(indent + "# " + c + "\n")
		}
		words := strings.Join(append([]string{d.Name}, d.Args...), " ")
		if !d.IsBlock {
			w.WriteString(indent + s.line(words) + "\n")
			continue
		}
		w.WriteString(indent + s.open(words) + "\n")
		writeDirectives(w, d.Body, depth+1, s)
		w.WriteString(indent + s.close(d.Name) + "\n")
	}
}

// routeTableLines lists the routes, highest priority first, for the head of a
// webserver's config, one line per route: priority, entrypoint, the host,
// port and path it claims, and where it goes. poolNote names the servers of
// a route with several in the webserver's own terms (its pool, its
// balancing). The lines are plain text; each format escapes them as
// comments.
func routeTableLines(p *plan.Plan, poolNote func(plan.Route) string) []string {
	var out []string
	for _, r := range p.ServedRoutes() {
		to := fmt.Sprintf("%s port %d (%s)", r.Service, r.Port, r.Upstream)
		if len(r.Backends) > 0 {
			to = poolNote(r.Route)
		}
		out = append(out, fmt.Sprintf("  %-4d %-10s %s -> %s", r.Priority, r.Entrypoint, r.Where(), to))
	}
	return out
}

// webserver is how one format's files are made from the plan.
type webserver struct {
	name, dir string
	conf      func(*plan.Plan) ([]byte, error)
	// baseDomain is the snippet for the base domain's own website (see
	// baseDomainWellKnown).
	baseDomain func(*plan.Plan, plan.Route) ([]byte, error)
}

// render adds matrix.conf and, where the website needs it, the base
// domain's snippet to the tree.
func (s webserver) render(p *plan.Plan, t Tree) error {
	conf, err := s.conf(p)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if err := t.addBundleFile(s.dir+"matrix.conf", 0o644, conf); err != nil {
		return err
	}
	r, ok := baseDomainWellKnown(p)
	if !ok {
		return nil
	}
	snippet, err := s.baseDomain(p, r)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return t.addBundleFile(s.dir+"base-domain-well-known.conf", 0o644, snippet)
}

// baseDomainWellKnown is the well-known route the base domain's own
// website must forward: needed when the server name is not a hostname the
// route table serves itself (well_known.serve_base_domain off, and the
// homeserver on another name).
func baseDomainWellKnown(p *plan.Plan) (plan.Route, bool) {
	var found *plan.Route
	for i, r := range p.Routes {
		if r.Host == p.Host.Domain {
			return plan.Route{}, false
		}
		if r.PathPrefix == wellKnownPrefix && found == nil {
			found = &p.Routes[i]
		}
	}
	if found == nil {
		return plan.Route{}, false
	}
	return *found, true
}
