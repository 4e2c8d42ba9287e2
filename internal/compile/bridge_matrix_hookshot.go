package compile

import (
	"regexp"
	"slices"

	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

func init() { registerBridgeType("matrix-hookshot", addMatrixHookshot) }

const (
	// hookshotAppservicePort is where Synapse sends hookshot its events
	// (bridge.port), upstream's port.
	hookshotAppservicePort = 9993
	// hookshotWebhooksPort is the listener for what other services send:
	// generic webhooks, GitHub's and GitLab's events, GitHub logins.
	hookshotWebhooksPort = 9000
	// hookshotPublicPath is where the webhooks listener is public on the
	// homeserver's hostname; it ends in "/", as a stripped prefix does.
	hookshotPublicPath = reserved.HookshotWebhooks + "/"
	// hookshotRSABits is upstream's advice for the key that encrypts the
	// tokens hookshot keeps (passFile).
	hookshotRSABits = 4096
)

// hookshotOptions are hookshot's own options
// (schema/bridge_matrix_hookshot.cue).
type hookshotOptions struct {
	Webhooks bool `json:"webhooks"`
	Feeds    bool `json:"feeds"`
	GitHub   *struct {
		AppID int  `json:"app_id"`
		OAuth bool `json:"oauth"`
	} `json:"github"`
	GitLab *struct {
		Instances []string `json:"instances"`
	} `json:"gitlab"`
	LogLevel string `json:"log_level"`
}

// hookshot is one hookshot instance while its files are made: the secrets
// its config fills in, and those its container reads as files.
type hookshot struct {
	bridge
	opts hookshotOptions
	// public is the webhooks listener's public URL, ending in "/".
	public  string
	filled  []string
	mounted []string
}

// addMatrixHookshot: hookshot has no registration generator and no
// database (it keeps its state in room state and in memory). Its config
// and registration are written from the options; the key it encrypts
// users' tokens with is made on the host once.
func addMatrixHookshot(b *builder, br bridge) {
	h := &hookshot{bridge: br, public: "https://" + b.cfg.Hostnames.Homeserver + hookshotPublicPath}
	br.DecodeOptions(&h.opts)
	as, hs := b.appserviceTokens(br)
	cfg := deepMerge(h.config(b), br.Extra)
	b.writeRegistration(br, h.registration(b, cfg, as, hs))
	b.file(plan.File{
		Path: br.configDir() + "/config.yml", Format: plan.YAML, Value: cfg,
		Secrets: slices.Sorted(slices.Values(h.filled)), Restarts: []string{br.unit},
	})
	mounts := []plan.Mount{{Source: br.configDir(), Target: "/data", ReadOnly: true}}
	for _, s := range h.mounted {
		mounts = append(mounts, b.secretFileMount(s))
	}
	b.service(plan.Service{
		Unit:        br.unit,
		Description: "matrix-hookshot bridge for webhooks, GitHub, GitLab and feeds (" + br.name + ")",
		Image:       br.Image,
		// The image's command with the registration's name here.
		Command:  []string{"node", "/bin/matrix-hookshot/App/BridgeApp.js", "/data/config.yml", "/data/registration.yaml"},
		Mounts:   mounts,
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens: []plan.Listen{
			{Name: "http", Port: hookshotWebhooksPort, HostPort: br.HostPort, Origin: br.option("host_port")},
			{Name: "appservice", Port: hookshotAppservicePort},
		},
		Wants: []string{b.homeserverUnit()},
	})
	// The listener's /ready answers 200 once hookshot has bound the
	// webhooks to it, which it does after reaching Synapse with its token
	// and loading its rooms. The image has Node, not curl.
	b.health(br.unit, 300, "docker", "exec", br.unit, "node", "-e",
		"fetch('http://127.0.0.1:"+itoa(hookshotWebhooksPort)+"/ready').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))")
	// Hookshot serves from the root of its listener: /webhook/<id>,
	// /github/webhook, /gitlab/webhook, /github/oauth.
	b.route(plan.Route{
		Name: br.unit + "-webhooks", Host: b.cfg.Hostnames.Homeserver, PathPrefix: hookshotPublicPath,
		Entrypoint: plan.EntrypointClient, Service: br.unit, Port: hookshotWebhooksPort, StripPrefix: true,
	})
}

// config is hookshot's config.yml before extra: the homeserver, the
// listeners (webhooks only; widgets and metrics through extra) and the
// services the options turn on.
func (h *hookshot) config(b *builder) obj {
	domain := b.cfg.Domain
	passkey := h.secret(b, plan.RSAKey, "passkey", "key "+h.name+" encrypts the tokens it keeps with", "passkey.pem")
	cfg := obj{
		"bridge": obj{
			"domain": domain,
			"url":    b.clientAPIURL(),
			// Links to Matrix media in what hookshot posts to GitHub and
			// GitLab: public.
			"mediaUrl":    "https://" + b.cfg.Hostnames.Homeserver,
			"port":        hookshotAppservicePort,
			"bindAddress": "0.0.0.0",
		},
		// The journal shows no colours.
		"logging":  obj{"level": h.opts.LogLevel, "colorize": false, "json": false},
		"passFile": secretMount(string(passkey)),
		"listeners": []any{
			obj{"port": hookshotWebhooksPort, "bindAddress": "0.0.0.0", "resources": []any{"webhooks"}},
		},
		// Hookshot's own default, written out so that it is reviewable and
		// hookshot does not warn about it on every start.
		"permissions": []any{
			obj{"actor": domain, "services": []any{obj{"service": "*", "level": "admin"}}},
		},
		"bot":   obj{"displayname": "Hookshot Bot"},
		"feeds": obj{"enabled": h.opts.Feeds, "pollIntervalSeconds": 600},
	}
	if h.opts.Webhooks {
		cfg["generic"] = obj{
			"enabled":   true,
			"urlPrefix": h.public + "webhook",
			// Each hook posts as a user of its own.
			"userIdPrefix":                   h.UsernamePrefix,
			"allowJsTransformationFunctions": false,
			"waitForComplete":                false,
			"enableHttpGet":                  false,
			"outbound":                       false,
		}
	}
	if h.opts.GitHub != nil {
		cfg["github"] = h.github(b)
	}
	if h.opts.GitLab != nil {
		cfg["gitlab"] = h.gitlab(b)
	}
	return cfg
}

// github is the GitHub App: its key, provided, and the webhook secret
// GitHub signs its events with, made on the host; with oauth, the app's
// client credentials for users' logins.
func (h *hookshot) github(b *builder) obj {
	gh := h.opts.GitHub
	key := h.secret(b, plan.ProvidedKey, "github-private-key", "private key of the GitHub App "+h.name+" uses", "private-key.pem")
	github := obj{
		"auth":    obj{"id": gh.AppID, "privateKeyFile": secretMount(string(key))},
		"webhook": obj{"secret": h.secret(b, plan.RandomToken, "github-webhook-secret", "webhook secret of the GitHub App "+h.name+" uses", "")},
	}
	if gh.OAuth {
		github["oauth"] = obj{
			"client_id":     h.secret(b, plan.Provided, "github-client-id", "Client ID of the GitHub App "+h.name+" uses", ""),
			"client_secret": h.secret(b, plan.Provided, "github-client-secret", "a client secret of the GitHub App "+h.name+" uses", ""),
			"redirect_uri":  h.public + "github/oauth",
		}
	}
	return github
}

// gitlab names each GitLab server after its hostname; hookshot adds the
// project webhooks at publicUrl itself where it may.
func (h *hookshot) gitlab(b *builder) obj {
	instances := obj{}
	for _, host := range h.opts.GitLab.Instances {
		instances[host] = obj{"url": "https://" + host}
	}
	return obj{
		"instances": instances,
		"webhook": obj{
			"secret":    h.secret(b, plan.RandomToken, "gitlab-webhook-secret", "secret token GitLab webhooks present to "+h.name, ""),
			"publicUrl": h.public + "gitlab/webhook",
		},
	}
}

// secret declares one of hookshot's host secrets. Keys span lines, so the
// container reads them from their files; the others are filled into
// config.yml. mdadFile is where MDAD kept the file in the bridge's
// directory, imported when the secret is missing.
func (h *hookshot) secret(b *builder, kind plan.SecretKind, suffix, description, mdadFile string) plan.SecretRef {
	name := h.name + "-" + suffix
	ref := b.secret(name, description, h.unit)
	i := slices.IndexFunc(b.plan.Secrets, func(s plan.Secret) bool { return s.Name == name })
	s := &b.plan.Secrets[i]
	s.Kind = kind
	if kind == plan.RSAKey {
		s.Length = hookshotRSABits
	}
	if mdadFile != "" {
		s.ImportFrom = b.dataPath(h.name, mdadFile)
	}
	if kind == plan.RSAKey || kind == plan.ProvidedKey {
		h.mounted = append(h.mounted, name)
	} else {
		h.filled = append(h.filled, name)
	}
	return ref
}

// registration claims hookshot's bot and the users config.yml makes it
// create, after extra: the generic webhooks', GitHub's and GitLab's
// prefixes and the service bots. GitHub's repositories are also rooms
// joined by alias (#github_<owner>_<repo>).
func (h *hookshot) registration(b *builder, cfg obj, as, hs plan.SecretRef) registration {
	domain := b.cfg.Domain
	users := []namespace{
		{regex: userRegex(domain, h.BotUsername, false), exclusive: true},
		{regex: userRegex(domain, h.UsernamePrefix, true), exclusive: true},
	}
	for _, service := range []struct{ section, prefix string }{{"github", "_github_"}, {"gitlab", "_gitlab_"}} {
		section, on := asMap(cfg[service.section])
		if !on {
			continue
		}
		prefix := service.prefix
		if p, ok := section["userIdPrefix"].(string); ok && p != "" {
			prefix = p
		}
		users = append(users, namespace{regex: userRegex(domain, prefix, true), exclusive: true})
	}
	bots, _ := cfg["serviceBots"].([]any)
	for _, sb := range bots {
		if m, ok := asMap(sb); ok {
			if lp, ok := m["localpart"].(string); ok && lp != "" {
				users = append(users, namespace{regex: userRegex(domain, lp, false), exclusive: true})
			}
		}
	}
	reg := registration{
		id: h.AppserviceID, url: "http://" + h.unit + ":" + itoa(hookshotAppservicePort),
		asToken: as, hsToken: hs, senderLocalpart: h.BotUsername, users: users, ephemeral: true,
	}
	if _, on := cfg["github"]; on {
		ns := reg.value()["namespaces"].(obj)
		ns["aliases"] = []any{obj{"regex": "^#github_.+:" + regexp.QuoteMeta(domain) + "$", "exclusive": true}}
		reg.extra = obj{"namespaces": ns}
	}
	return reg
}
