package compile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// Files that options land in, relative to host.data_dir.
const (
	homeserverFile    = "synapse/config/homeserver.yaml"
	elementConfigFile = "client-element/config.json"
	traefikStaticFile = "traefik/config/traefik.yml"
)

// mapping is an option that lands on one key of a program's config file
// as it is, or through a plain conversion. The component that writes the
// file applies its rows (applyMappings), and `matrixgen explain` shows
// them (Mappings), so what explain says is what compile does. Options that
// decide more than one value stay code in their component.
type mapping struct {
	option string   // the config path
	file   string   // a file, relative to host.data_dir
	key    []string // the key's path in the file
	// value is what the key holds for a config; nil leaves the key out.
	value func(*config.Config) any
}

// mappings are in the order of the files' own documentation, for explain.
var mappings = []mapping{
	{"domain", homeserverFile, keyPath("server_name"), func(c *config.Config) any { return c.Domain }},
	{"hostnames.homeserver", homeserverFile, keyPath("public_baseurl"),
		func(c *config.Config) any { return "https://" + c.Hostnames.Homeserver + "/" }},
	{"homeserver.max_upload_size_mb", homeserverFile, keyPath("max_upload_size"),
		func(c *config.Config) any { return fmt.Sprintf("%dM", c.Homeserver.MaxUploadSizeMB) }},
	{"homeserver.presence", homeserverFile, keyPath("presence", "enabled"), func(c *config.Config) any { return c.Homeserver.Presence }},
	{"homeserver.trusted_key_servers", homeserverFile, keyPath("trusted_key_servers"), trustedKeyServers},
	{"synapse.limit_remote_rooms.enabled", homeserverFile, keyPath("limit_remote_rooms", "enabled"),
		func(c *config.Config) any { return c.Synapse.LimitRemoteRooms.Enabled }},
	{"synapse.limit_remote_rooms.complexity", homeserverFile, keyPath("limit_remote_rooms", "complexity"),
		func(c *config.Config) any { return c.Synapse.LimitRemoteRooms.Complexity }},
	{"synapse.limit_remote_rooms.admins_can_join", homeserverFile, keyPath("limit_remote_rooms", "admins_can_join"),
		func(c *config.Config) any { return c.Synapse.LimitRemoteRooms.AdminsCanJoin }},
	{"homeserver.auto_join_rooms", homeserverFile, keyPath("auto_join_rooms"), func(c *config.Config) any { return listOrNone(c.Homeserver.AutoJoinRooms) }},
	{"synapse.admin_contact", homeserverFile, keyPath("admin_contact"), func(c *config.Config) any { return stringOrNone(c.Synapse.AdminContact) }},
	{"synapse.url_previews.enabled", homeserverFile, keyPath("url_preview_enabled"), func(c *config.Config) any { return c.Synapse.URLPreviews.Enabled }},

	{"hostnames.homeserver", elementConfigFile, keyPath("default_server_config", "m.homeserver", "base_url"),
		func(c *config.Config) any { return "https://" + c.Hostnames.Homeserver }},
	{"domain", elementConfigFile, keyPath("default_server_config", "m.homeserver", "server_name"), func(c *config.Config) any { return c.Domain }},
	{"element.brand", elementConfigFile, keyPath("brand"), func(c *config.Config) any { return c.Element.Brand }},
	{"element.default_theme", elementConfigFile, keyPath("default_theme"), func(c *config.Config) any { return c.Element.DefaultTheme }},
	{"domain", elementConfigFile, keyPath("room_directory", "servers"), func(c *config.Config) any { return []any{c.Domain} }},

	// Behind another proxy, Traefik gets no certificates.
	{"traefik.acme_email", traefikStaticFile, keyPath("certificatesResolvers", certResolver, "acme", "email"), func(c *config.Config) any {
		if c.Traefik.BehindProxy.Enabled {
			return nil
		}
		return c.Traefik.ACMEEmail
	}},
}

func keyPath(parts ...string) []string { return parts }

// trustedKeyServers is a list, never nil, even when empty: the key is
// written then too, since Synapse takes a missing one for matrix.org.
func trustedKeyServers(c *config.Config) any {
	var out []any
	for _, k := range c.Homeserver.TrustedKeyServers {
		out = append(out, obj{"server_name": k})
	}
	return out
}

func listOrNone(s []string) any {
	if len(s) == 0 {
		return nil
	}
	return plan.AnyList(s)
}

func stringOrNone(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// applyMappings sets the keys the table maps into file on doc.
func applyMappings(doc obj, file string, c *config.Config) obj {
	for _, m := range mappings {
		if m.file != file {
			continue
		}
		v := m.value(c)
		if v == nil {
			continue
		}
		at := doc
		for _, k := range m.key[:len(m.key)-1] {
			next, ok := at[k].(obj)
			if !ok {
				next = obj{}
				at[k] = next
			}
			at = next
		}
		at[m.key[len(m.key)-1]] = v
	}
	return doc
}

// Mapping is one row of the table, for explain and the tests: Option
// lands on Key of File (relative to host.data_dir), and Value is what the
// key holds for a config (nil: the key is left out).
type Mapping struct {
	Option string
	File   string
	Key    []string
	Value  func(*config.Config) any
}

// KeyString is the key's path as explain prints it, with the parts that
// hold a dot in quotes.
func (m Mapping) KeyString() string {
	parts := make([]string, len(m.Key))
	for i, k := range m.Key {
		parts[i] = k
		if strings.Contains(k, ".") {
			parts[i] = strconv.Quote(k)
		}
	}
	return strings.Join(parts, ".")
}

// Mappings is the table, in its order.
func Mappings() []Mapping {
	out := make([]Mapping, len(mappings))
	for i, m := range mappings {
		out[i] = Mapping{Option: m.option, File: m.file, Key: m.key, Value: m.value}
	}
	return out
}
