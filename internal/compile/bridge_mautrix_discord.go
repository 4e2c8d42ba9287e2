package compile

func init() { registerBridgeType("mautrix-discord", addMautrixDiscord) }

const mautrixDiscordPort = 29334

// addMautrixDiscord: the released Discord bridge (v0.7) is built on
// mautrix-go's older bridge framework, whose config nests the database
// under appservice and keeps the bridge's options, double puppeting
// included, under bridge. Logins (Discord tokens) are kept in its
// database.
func addMautrixDiscord(b *builder, br bridge) {
	m := newMautrixBridge(b, br, mautrixDiscordPort)
	cfg := obj{
		"homeserver": obj{
			"address":  b.clientAPIURL(),
			"domain":   b.cfg.Domain,
			"software": "standard",
		},
		"appservice": obj{
			"address":          m.address,
			"hostname":         "0.0.0.0",
			"port":             mautrixDiscordPort,
			"database":         obj{"type": "postgres", "uri": mautrixDatabaseURI(m.db)},
			"id":               br.AppserviceID,
			"bot":              obj{"username": br.BotUsername},
			"ephemeral_events": true,
			"as_token":         m.as,
			"hs_token":         m.hs,
		},
		"bridge": obj{
			"username_template": br.UsernamePrefix + "{{.}}",
			"permissions":       m.permissions,
			// A room can only federate if the server does.
			"federate_rooms":   b.cfg.Homeserver.Federation.Enabled,
			"avatar_proxy_key": m.secret(b, "avatar-proxy-key", "key signing avatar URLs"),
			"provisioning":     obj{"shared_secret": m.secret(b, "provisioning-secret", "shared secret of the provisioning API")},
			"direct_media":     obj{"server_key": m.directMediaKey(b)},
			// This server's users act through the double-puppeting
			// appservice's token; other servers' are not listed.
			"double_puppet_server_map":      obj{},
			"double_puppet_allow_discovery": false,
			"login_shared_secret_map":       m.doublePuppet,
			"encryption": obj{
				"allow":   m.opts.Encryption.Allow,
				"default": m.opts.Encryption.Default,
			},
		},
		"logging": m.logging(),
	}
	m.run(b, cfg, mautrixNetwork{
		description: "mautrix-discord bridge",
		binary:      "/usr/bin/mautrix-discord",
		port:        mautrixDiscordPort,
	})
}
