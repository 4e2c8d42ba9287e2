package validate

// The keys of maubot's config that connect it to its database, the
// homeserver and its secrets.
func init() {
	declareBotType("maubot", typeRule{
		wiring: map[string]string{
			"database": "database_name", "crypto_database": "",
			"server.hostname": "", "server.port": "", "server.public_url": "", "server.ui_base_path": "",
			"server.plugin_base_path": "", "server.override_resource_path": "", "server.unshared_secret": "",
			"plugin_directories": "", "plugin_databases.sqlite": "",
			"admins": "admin_username", "logging": "log_level",
		},
	})
}
