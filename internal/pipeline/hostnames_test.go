package pipeline

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// hostnameRE is what every program accepts as a host name. Twisted, which
// Synapse connects with, refuses an underscore (IDNA), although Docker's
// DNS answers for it.
var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// urlHostRE finds the host of every http URL with a port in a file.
var urlHostRE = regexp.MustCompile(`https?://([^/:"'\s]+):[0-9]+`)

func checkHostname(t *testing.T, where, host string) {
	t.Helper()
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return
	}
	if !hostnameRE.MatchString(host) {
		t.Errorf("%s: host name %q is not letters, digits, hyphens and dots", where, host)
	}
}

var proxyTypes = []string{"traefik", "nginx", "caddy", "apache"}

// TestHostnamesAreValid: every host name a proxy, Synapse's instance_map
// or a generated config is given for a container is a valid DNS name, and
// is the name the container answers to.
func TestHostnamesAreValid(t *testing.T) {
	for _, name := range exampleNames(t) {
		for _, proxy := range proxyTypes {
			t.Run(name+"/"+proxy, func(t *testing.T) {
				t.Parallel()
				b := withProxy(t, name, proxy)
				addresses := map[string]bool{}
				for _, s := range b.res.Plan.Services {
					if s.Address != "" {
						checkHostname(t, "service "+s.Unit, s.Address)
						addresses[s.Address] = true
					}
				}
				for _, r := range b.res.Plan.Routes {
					for _, be := range r.Servers() {
						host, _, err := net.SplitHostPort(be.Upstream)
						if err != nil {
							t.Errorf("route %s: upstream %q: %v", r.Name, be.Upstream, err)
							continue
						}
						checkHostname(t, "route "+r.Name, host)
					}
				}
				for _, host := range instanceMapHosts(t, b) {
					checkHostname(t, "instance_map", host)
					if !addresses[host] {
						t.Errorf("instance_map names %q, which no container answers to", host)
					}
				}
				for _, p := range b.res.Tree.Paths() {
					for _, m := range urlHostRE.FindAllStringSubmatch(string(b.res.Tree[p].Data), -1) {
						checkHostname(t, p, m[1])
					}
				}
			})
		}
	}
}

func instanceMapHosts(t *testing.T, b builtBundle) []string {
	t.Helper()
	var hosts []string
	for _, p := range b.res.Tree.Paths() {
		if !strings.HasSuffix(p, "/homeserver.yaml") {
			continue
		}
		var hs struct {
			InstanceMap map[string]struct {
				Host string `yaml:"host"`
			} `yaml:"instance_map"`
		}
		if err := yaml.Unmarshal(b.res.Tree[p].Data, &hs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, i := range hs.InstanceMap {
			hosts = append(hosts, i.Host)
		}
	}
	slices.Sort(hosts)
	return hosts
}

// TestStreamWritersKeepStreamNames: the hostnames change, the names
// Synapse knows its streams by do not.
func TestStreamWritersKeepStreamNames(t *testing.T) {
	b := buildVariant(t, "workers", "")
	var hs struct {
		StreamWriters map[string][]string `yaml:"stream_writers"`
	}
	data := b.res.Tree[strings.TrimPrefix(b.host().DataDir, "/")+"/synapse/config/homeserver.yaml"].Data
	if err := yaml.Unmarshal(data, &hs); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"device_lists", "account_data", "push_rules", "to_device"} {
		if _, ok := hs.StreamWriters[stream]; !ok {
			t.Errorf("stream_writers has no %s: %v", stream, hs.StreamWriters)
		}
	}
}

// TestProxyNetworkOnlyWithTraefik: a webserver on the host reaches the
// containers through their published ports; the Traefik network would only
// connect containers to a proxy that is not there.
func TestProxyNetworkOnlyWithTraefik(t *testing.T) {
	for _, proxy := range proxyTypes {
		t.Run(proxy, func(t *testing.T) {
			t.Parallel()
			b := buildVariant(t, "workers", "reverse_proxy:\n  type: "+proxy+"\n")
			const network = "traefik"
			used := slices.Contains(b.res.Plan.Networks, network)
			for _, s := range b.res.Plan.Services {
				used = used || slices.Contains(s.Networks, network)
			}
			for _, p := range b.res.Tree.Paths() {
				used = used || strings.Contains(string(b.res.Tree[p].Data), "network connect "+network+" ")
			}
			if want := proxy == "traefik"; used != want {
				t.Errorf("the %s network is used: %v, want %v", network, used, want)
			}
			if proxy == "traefik" {
				return
			}
			for _, r := range b.res.Plan.Routes {
				for _, be := range r.Servers() {
					if !publishes(b, be.Service, be.Upstream) {
						t.Errorf("route %s goes to %s, which %s does not publish", r.Name, be.Upstream, be.Service)
					}
				}
			}
		})
	}
}

// publishes tells whether unit's container publishes upstream on the host.
func publishes(b builtBundle, unit, upstream string) bool {
	for _, s := range b.res.Plan.Services {
		if s.Unit != unit {
			continue
		}
		for _, pub := range s.Publish {
			host, port, _ := net.SplitHostPort(upstream)
			if fmt.Sprint(pub.HostPort) == port && (pub.HostAddress == host || pub.HostAddress == "") {
				return true
			}
		}
	}
	return false
}

// withProxy builds the example with the proxy of that type, in place of
// the one it names, if any.
func withProxy(t *testing.T, name, proxy string) builtBundle {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^reverse_proxy:\n  type: \w+\n`).Find(data); m != nil {
		// Traefik gets its own certificates, which needs a contact.
		return buildEdited(t, name, string(m), "reverse_proxy:\n  type: "+proxy+"\ntraefik:\n  acme_email: admin@example.org\n")
	}
	return buildVariant(t, name, "reverse_proxy:\n  type: "+proxy+"\n")
}
