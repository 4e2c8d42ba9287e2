package mdad

// secretPlan is a secret of the bundle, and where the server's value can
// come from.
type secretPlan struct {
	name   string // the bundle's name for it
	suffix string // of the variable that sets it
	salt   string // of the playbook's derivation ("" for none)
	// fixed is the playbook's own value for it, when it has one.
	fixed, fixedWhat string
	// provided: install.sh cannot make it; the operator gives it.
	provided bool
	// importFrom is the playbook's file install.sh takes the secret over
	// from, and importWhat says what that file is.
	importFrom, importWhat string
	// newWhat says what to do with a new value install.sh makes.
	newWhat string
}

// secrets takes the bridge's secrets that vars.yml sets, and lists the
// bridge's others for collectSecrets to derive or leave to install.sh.
func (b *bridgeRun) secrets() {
	k, n := b.k, b.k.name
	list := []secretPlan{
		{name: n + "-as-token", suffix: "appservice_token", salt: k.salts.as},
		{name: n + "-hs-token", suffix: "homeserver_token", salt: k.salts.hs},
	}
	if k.mautrix {
		external := b.t.postgresExternal()
		db := secretPlan{name: b.dbName + "-db-password", suffix: "database_password", salt: k.salts.db, provided: external}
		if external && k.dbSaltNeedsBundled {
			db.salt = ""
		}
		list = append(list, db, secretPlan{name: n + "-provisioning-secret", suffix: "provisioning_shared_secret", salt: k.salts.provisioning})
	}
	if k.bridgev2 {
		list = append(list,
			secretPlan{name: n + "-public-media-key", suffix: "public_media_signing_key", salt: k.salts.publicMedia},
			secretPlan{name: n + "-pickle-key", suffix: "bridge_encryption_pickle_key", fixed: k.pickleKey,
				fixedWhat: "the playbook's fixed encryption.pickle_key for " + n + ", which its encryption keys are sealed with"})
	}
	if k.salts.avatar != "" {
		list = append(list, secretPlan{name: n + "-avatar-proxy-key", suffix: "bridge_avatar_proxy_key", salt: k.salts.avatar})
	}
	if k.secrets != nil {
		list = append(list, k.secrets(b)...)
	}
	for _, s := range list {
		if v, val, ok := b.take(s.suffix); ok {
			b.t.takeSecret(v, val, s.name)
		}
		b.t.addRoleSecret(s)
	}
}

// addRoleSecret adds a secret of a bridge or bot the translation took over.
func (t *translator) addRoleSecret(s secretPlan) {
	t.roleSecrets = append(t.roleSecrets, s)
	t.secretOrder = append(t.secretOrder, s.name)
}

// doublePuppetSecrets: the tokens of the double-puppeting appservice, when
// a translated bridge uses it.
func (t *translator) doublePuppetSecrets(g *bridgeGlobals) {
	if !g.anyDoublePuppet {
		return
	}
	for _, s := range []struct{ name, variable, salt string }{
		{doublePuppetASToken, varDoublePuppetAS, doublePuppetASSalt},
		{doublePuppetHSToken, varDoublePuppetHS, doublePuppetHSSalt},
	} {
		if v := g.vars[s.variable]; v != nil {
			g.handled[v] = true
			if n, err := t.r.variable(v.name); err != nil {
				t.notTranslated(v, err.Error())
			} else {
				t.takeSecret(v, n, s.name)
			}
		}
		t.addRoleSecret(secretPlan{name: s.name, salt: s.salt})
	}
}
