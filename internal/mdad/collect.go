package mdad

import "fmt"

// secretOrder is the order secrets are reported and written in.
var secretOrder = []string{
	"synapse-db-password", "synapse-macaroon-secret", "synapse-form-secret", "synapse-registration-secret",
	"dendrite-db-password", "dendrite-registration-secret",
	"matrix-continuwuity-registration-token", "matrix-tuwunel-registration-token",
	"postgres-password", "coturn-shared-secret", turnElsewhereSecret, "mailer-smarthost-password", "synapse-worker-replication-secret",
	"livekit-api-key", "livekit-api-secret", grafanaAdminSecret, backupPasswordSecret,
}

// derivedSalts are the salts the playbook derives a secret with, for the
// secrets whose salt is known. Without one, install.sh makes a new value,
// which is what the playbook would do on a fresh server too.
var derivedSalts = map[string]string{
	"synapse-db-password":     "synapse.db",
	"synapse-macaroon-secret": "synapse.mac",
	// Dendrite's database password and registration shared secret.
	"dendrite-db-password":         "dendrite.db",
	"dendrite-registration-secret": "dendrite.rss",
}

// collectSecrets decides, for each secret the bundle of this config reads,
// where its value comes from: vars.yml, the playbook's derivation, or
// nowhere (then install.sh makes or asks for it).
func (t *translator) collectSecrets() {
	external := t.postgresExternal()
	_, smarthostUser := t.out.get("mailer.smarthost.user")
	impl := t.homeserverImplementation()
	synapse, dendrite := t.runsSynapse(), impl == "dendrite"
	mode, _ := t.out.get("homeserver.registration.mode")
	token := mode != nil && mode.Value == "token"
	needed := map[string]bool{
		"synapse-db-password":                    synapse,
		"synapse-macaroon-secret":                synapse,
		"synapse-form-secret":                    synapse,
		"synapse-registration-secret":            synapse,
		"dendrite-db-password":                   dendrite,
		"dendrite-registration-secret":           dendrite,
		"matrix-continuwuity-registration-token": impl == "continuwuity" && token,
		"matrix-tuwunel-registration-token":      impl == "tuwunel" && token,
		// A RocksDB homeserver alone needs no PostgreSQL: the bundle runs
		// it only for bridges and bots that keep their data there.
		"postgres-password":         !external && t.bundleRunsPostgres(),
		"coturn-shared-secret":      t.coturnEnabled(),
		turnElsewhereSecret:         t.out.has("homeserver.turn.uris"),
		"mailer-smarthost-password": t.mailerEnabled() && smarthostUser,
		// The playbook's workers talk to the main process without one, so
		// there is nothing to bring: install.sh makes it.
		"synapse-worker-replication-secret": t.workersOn(),
		// Only LiveKit and the JWT service use them: install.sh makes new ones.
		"livekit-api-key":    t.rtcEnabled(),
		"livekit-api-secret": t.rtcEnabled(),
		grafanaAdminSecret:   t.monitoringOn(),
		backupPasswordSecret: borgUsed(t) == "",
	}
	// A secret the operator provides, not one install.sh can make.
	provided := map[string]bool{
		"synapse-db-password":       external,
		"dendrite-db-password":      external,
		"mailer-smarthost-password": true,
		turnElsewhereSecret:         true,
		// Without it no backup in the repository can be read: a new
		// value would start a repository nobody can restore from.
		backupPasswordSecret: true,
	}
	key, keyVar := "", t.vf.byName["matrix_homeserver_generic_secret_key"]
	if keyVar != nil && keyVar.overriddenAt == 0 {
		if n, err := t.r.variable(keyVar.name); err == nil {
			key, _ = scalarText(n)
		}
	}
	for _, name := range secretOrder {
		if !needed[name] {
			if v, ok := t.secretBy[name]; ok {
				delete(t.secrets, name)
				t.unread(v)
				t.notTranslated(v, "the bundle of this config has no secret "+name+" to give it to")
			}
			continue
		}
		if _, ok := t.secrets[name]; ok {
			continue
		}
		t.deriveSecret(secretPlan{name: name, salt: derivedSalts[name], provided: provided[name]}, key, keyVar)
	}
	if dendrite {
		t.missing = append(t.missing, MissingSecret{"dendrite-signing-key", fmt.Sprintf(
			"install.sh makes a new key; to keep the playbook's, copy /matrix/dendrite/config/%s.signing.pem "+
				"(the same format) to /matrix/dendrite/config/%s.key before running it", t.homeserver(), t.domain()), false})
	}
	for _, s := range t.roleSecrets {
		if _, ok := t.secrets[s.name]; !ok {
			t.deriveSecret(s, key, keyVar)
		}
	}
}

// deriveSecret finds a value for a secret vars.yml does not give: the
// playbook's derivation, or its fixed value; else install.sh makes one,
// or, for one the operator provides, stops until it is there.
func (t *translator) deriveSecret(s secretPlan, key string, keyVar *variable) {
	name := s.name
	switch {
	case s.fixed != "":
		t.secrets[name] = Secret{Name: name, Value: s.fixed, Source: s.fixedWhat}
	case s.salt != "" && key != "" && !s.provided:
		t.secrets[name] = Secret{Name: name, Value: DeriveSecret(key, s.salt),
			Source: fmt.Sprintf("derived from matrix_homeserver_generic_secret_key (line %d), salt %s", keyVar.line, s.salt)}
	case s.importFrom != "" && s.provided:
		t.missing = append(t.missing, MissingSecret{name, fmt.Sprintf("install.sh takes it over from %s, %s; it stops while neither that file nor /matrix/secrets/%s is there", s.importFrom, s.importWhat, name), true})
	case s.importFrom != "":
		t.missing = append(t.missing, MissingSecret{name, fmt.Sprintf("install.sh takes it over from %s, %s; only without that file does it create a new one", s.importFrom, s.importWhat), false})
	case s.provided:
		t.missing = append(t.missing, MissingSecret{name, "not in vars.yml: install.sh stops until you put it in /matrix/secrets/" + name, true})
	case s.salt != "" && keyVar != nil:
		t.missing = append(t.missing, MissingSecret{name, "not derived (matrix_homeserver_generic_secret_key is empty or unreadable): install.sh will create a new one" + s.whatNext(), false})
	default:
		t.missing = append(t.missing, MissingSecret{name, "not derived: install.sh will create a new one" + s.whatNext(), false})
	}
}

func (s secretPlan) whatNext() string {
	if s.newWhat == "" {
		return ""
	}
	return "; " + s.newWhat
}

// unread takes a variable off the list of those read, to report it instead.
func (t *translator) unread(v *variable) {
	for i, r := range t.read {
		if r.Name == v.name && r.Line == v.line {
			t.read = append(t.read[:i], t.read[i+1:]...)
			return
		}
	}
}
