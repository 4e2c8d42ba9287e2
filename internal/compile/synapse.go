package compile

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/config"
	"github.com/matrixgen/matrixgen/internal/plan"
	"github.com/matrixgen/matrixgen/internal/reserved"
)

const (
	synapseUnit           = "matrix-synapse"
	synapseClientPort     = 8008
	synapseFederationPort = 8048
	synapseConfigDir      = "/data"
	synapseMediaParent    = "/matrix-media-store-parent"
)

type obj = map[string]any

func addSynapse(b *builder) {
	s := b.cfg.Synapse
	db := b.database(synapseUnit, "synapse", true)
	configDir := b.dataPath("synapse", "config")
	storage := b.dataPath("synapse", "storage")
	b.dir(b.dataPath("synapse"), 0o750)
	b.dir(configDir, 0o750)
	b.dir(storage, 0o750)
	b.dir(storage+"/media-store", 0o750)

	secrets := []string{"synapse-macaroon-secret", "synapse-form-secret", "synapse-registration-secret"}
	workers := synapseWorkers(b.cfg)
	if len(workers) > 0 {
		secrets = append(secrets, replicationSecret)
	}
	for _, name := range secrets {
		b.secret(name, "Synapse "+strings.TrimPrefix(name, "synapse-"), synapseUnit)
	}
	b.plan.Secrets = append(b.plan.Secrets, plan.Secret{
		Name: "synapse-signing-key", Kind: plan.SigningKey, Description: "Synapse's ed25519 signing key",
		Readers: []string{synapseUnit}, Path: configDir + "/" + b.cfg.Domain + ".signing.key",
		ImportFrom: s.SigningKeyImport, Origin: b.origin,
	})
	// Secrets of outside services: the OIDC providers' client secrets and
	// the shared secret of a TURN server elsewhere.
	provided := synapseSSOSecrets(b)
	if turn := b.cfg.Homeserver.TURN; turn != nil {
		b.providedSecret(turnElsewhereSecret, "shared secret of the TURN server "+turnHosts(turn.URIs), synapseUnit)
		provided = append(provided, turnElsewhereSecret)
	}
	hs := homeserverConfig(b, db, workers)
	b.file(plan.File{
		Path: b.dataPath(homeserverFile), Format: plan.YAML, Value: hs,
		Secrets: []string{string(db.Password)}, Restarts: []string{synapseUnit},
	})
	b.file(plan.File{
		Path: configDir + "/" + b.cfg.Domain + ".log.config", Format: plan.YAML,
		Value: synapseLogConfig(s.LogLevel), Restarts: []string{synapseUnit},
	})

	mounts := []plan.Mount{
		{Source: configDir, Target: synapseConfigDir, ReadOnly: true},
		{Source: storage, Target: synapseMediaParent},
	}
	for _, name := range secrets {
		mounts = append(mounts, b.secretFileMount(name))
	}
	if b.cfg.Coturn.Enabled {
		mounts = append(mounts, b.secretFileMount(coturnSecret))
	}
	for _, name := range provided {
		mounts = append(mounts, b.secretFileMount(name))
	}
	var wants []string
	if b.cfg.MAS.Enabled {
		// Synapse asks MAS about every access token it is shown.
		mounts = append(mounts, b.secretFileMount(masSynapseSecret))
		wants = append(wants, masUnit)
	}
	mounts = append(mounts, appserviceMounts(b)...)
	listens := []plan.Listen{{Name: "client", Port: synapseClientPort, HostPort: reserved.SynapseClientPort}}
	if b.cfg.Homeserver.Federation.Enabled {
		listens = append(listens, plan.Listen{Name: "federation", Port: synapseFederationPort, HostPort: reserved.SynapseFederationPort})
	}
	if c := b.cfg; c.SynapseMetrics() {
		listens = append(listens, synapseMetricsListen(c))
	}
	var requires []string
	if db.Unit != "" {
		requires = append(requires, db.Unit)
	}
	if len(workers) > 0 {
		listens = append(listens, plan.Listen{Name: "replication", Port: replicationPort})
		requires = append(requires, valkeyUnit)
	}
	b.service(plan.Service{
		Unit:        synapseUnit,
		Description: "Synapse Matrix homeserver",
		Image:       s.Image,
		Entrypoint:  "python3",
		Command:     []string{"-m", "synapse.app.homeserver", "--config-path=" + synapseConfigDir + "/homeserver.yaml"},
		Mounts:      mounts,
		Tmpfs:       []string{"/tmp"},
		Networks:    []string{b.cfg.Host.Networks.Homeserver, b.cfg.Host.Networks.Proxy},
		Listens:     listens,
		Requires:    requires,
		Wants:       wants,
		StopTimeout: 60,
	})
	b.health(synapseUnit, 300, "docker", "exec", synapseUnit, "curl", "-fsS", "-o", "/dev/null",
		fmt.Sprintf("http://localhost:%d/health", synapseClientPort))
	b.plan.Homeserver = plan.Homeserver{
		Unit: synapseUnit, ConfigFile: synapseConfigDir + "/homeserver.yaml", ClientPort: synapseClientPort,
		MediaStore: storage + "/media-store", Database: db.Database,
		Implementation: "synapse", SynapseTools: true, FederationPort: synapseFederationPort,
		// The tool reads the shared secret from the file Synapse reads
		// (registration_shared_secret_path).
		Accounts: &plan.AccountTool{
			Command:  []string{"register_new_matrix_user", "--config", synapseConfigDir + "/homeserver.yaml", "--password-file", "/dev/stdin"},
			UserFlag: "--user", AdminFlag: "--admin", NotAdminFlag: "--no-admin", ExistsOKFlag: "--exists-ok",
			Last: []string{fmt.Sprintf("http://localhost:%d", synapseClientPort)},
		},
	}
	addSynapseRoutes(b)
}

func addSynapseRoutes(b *builder) {
	host := b.cfg.Hostnames.Homeserver
	body := plan.RouteSettings{MaxBodyBytes: int64(b.cfg.Homeserver.MaxUploadSizeMB) << 20}
	route := func(name, prefix, entrypoint string, port int, settings plan.RouteSettings) {
		b.route(plan.Route{Name: name, Host: host, PathPrefix: prefix, Entrypoint: entrypoint,
			Service: synapseUnit, Port: port, Settings: settings})
	}
	route("synapse-client", "/_matrix", plan.EntrypointClient, synapseClientPort, body)
	route("synapse-client-synapse", "/_synapse/client", plan.EntrypointClient, synapseClientPort, body)
	route("synapse-health", "/health", plan.EntrypointClient, synapseClientPort, plan.RouteSettings{})
	// Ketesa runs in the browser and calls the admin API from there.
	if admin := b.cfg.ReverseProxy.AdminAPI; admin.Enabled || b.cfg.Ketesa.Enabled {
		route("synapse-admin", "/_synapse/admin", plan.EntrypointClient, synapseClientPort,
			plan.RouteSettings{MaxBodyBytes: body.MaxBodyBytes, AllowIPs: admin.Allow})
	}
	if !b.cfg.Homeserver.Federation.Enabled {
		return
	}
	route("synapse-federation", "/_matrix/federation", plan.EntrypointFederation, synapseFederationPort, body)
	route("synapse-federation-keys", "/_matrix/key", plan.EntrypointFederation, synapseFederationPort, body)
}

func homeserverConfig(b *builder, db dbConn, workers []worker) obj {
	s := b.cfg.Synapse
	c := b.cfg
	hs := applyMappings(obj{
		"report_stats":                    false,
		"listeners":                       synapseListeners(b, len(workers) > 0),
		"database":                        synapseDatabase(db),
		"log_config":                      synapseConfigDir + "/" + c.Domain + ".log.config",
		"media_store_path":                synapseMediaParent + "/media-store",
		"signing_key_path":                synapseConfigDir + "/" + c.Domain + ".signing.key",
		"macaroon_secret_key_path":        secretMount("synapse-macaroon-secret"),
		"form_secret_path":                secretMount("synapse-form-secret"),
		"registration_shared_secret_path": secretMount("synapse-registration-secret"),
		"serve_server_wellknown":          false,
	}, homeserverFile, c)
	registration := registrationConfig(b)
	if c.MAS.Enabled {
		registration = masSynapseConfig()
	}
	for k, v := range registration {
		hs[k] = v
	}
	if !c.Homeserver.Federation.Enabled {
		hs["federation_domain_whitelist"] = []any{}
	}
	if s.URLPreviews.Enabled {
		hs["url_preview_ip_range_blacklist"] = plan.AnyList(privateRanges)
	}
	if c.SynapseMetrics() {
		hs["enable_metrics"] = true
	}
	storageHygiene(s, hs)
	if c.Mailer.Enabled {
		hs["email"] = synapseEmail(b)
	}
	if c.Coturn.Enabled || c.Homeserver.TURN != nil {
		for k, v := range synapseTURN(b) {
			hs[k] = v
		}
	}
	if c.RTC.Enabled {
		for k, v := range rtcSynapseConfig(b) {
			hs[k] = v
		}
	}
	if len(s.SSO.OIDCProviders) > 0 {
		hs["oidc_providers"] = oidcProviders(s.SSO.OIDCProviders)
	}
	for k, v := range workerSharedConfig(workers) {
		hs[k] = v
	}
	if files := appserviceConfigFiles(b); len(files) > 0 {
		hs["app_service_config_files"] = files
	}
	return deepMerge(hs, s.Extra)
}

func registrationConfig(b *builder) obj {
	r := b.cfg.Homeserver.Registration
	out := obj{
		"enable_registration":         r.Mode != "closed",
		"registration_requires_token": r.Mode == "token",
	}
	if r.Mode == "open" && r.AllowUnverified {
		out["enable_registration_without_verification"] = true
	}
	if len(r.Require3PID) > 0 {
		out["registrations_require_3pid"] = plan.AnyList(r.Require3PID)
	}
	return out
}

func synapseListeners(b *builder, replication bool) []any {
	s := b.cfg.Synapse
	out := []any{httpListener(synapseClientPort, "client")}
	if b.cfg.Homeserver.Federation.Enabled {
		out = append(out, httpListener(synapseFederationPort, "federation"))
	}
	if b.cfg.SynapseMetrics() {
		out = append(out, metricsListener(s.Metrics.Port))
	}
	if replication {
		out = append(out, replicationListener())
	}
	return out
}

// httpListener serves one resource to the reverse proxy, whose
// X-Forwarded-For gives the client's address.
func httpListener(port int, resource string) obj {
	return obj{
		"port": port, "type": "http", "tls": false, "x_forwarded": true,
		"bind_addresses": []any{"::"},
		"resources":      []any{obj{"names": []any{resource}, "compress": false}},
	}
}

// synapseMetricsPath is where Synapse's metrics listener serves.
const synapseMetricsPath = "/_synapse/metrics"

// synapseMetricsListen is the metrics listener of Synapse's main process
// and of each worker: one Prometheus job for them all, told apart by
// instance.
func synapseMetricsListen(c *config.Config) plan.Listen {
	return plan.Listen{Name: "metrics", Port: c.Synapse.Metrics.Port, Path: synapseMetricsPath, Job: "synapse"}
}

func metricsListener(port int) obj {
	return obj{"port": port, "type": "metrics", "bind_addresses": []any{"0.0.0.0"}}
}

func synapseDatabase(db dbConn) obj {
	args := obj{
		"user": db.User, "password": db.Password, "dbname": db.Database,
		"host": db.Host, "port": db.Port, "cp_min": 5, "cp_max": synapseCPMax,
	}
	if db.SSLMode != "disable" {
		args["sslmode"] = db.SSLMode
	}
	return obj{"name": "psycopg2", "txn_limit": 10000, "args": args}
}

func synapseLogConfig(level string) obj {
	return obj{
		"version":    1,
		"formatters": obj{"precise": obj{"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}},
		"handlers": obj{"console": obj{
			"class": "logging.StreamHandler", "formatter": "precise",
		}},
		"loggers":                  obj{"synapse.storage.SQL": obj{"level": "WARNING"}},
		"root":                     obj{"level": level, "handlers": []any{"console"}},
		"disable_existing_loggers": false,
	}
}

// privateRanges are addresses the server must never fetch on a user's
// behalf (URL previews) or relay to (TURN).
var privateRanges = []string{
	"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "::1/128", "fe80::/10", "fc00::/7",
	"2001:db8::/32", "ff00::/8", "fec0::/10",
}
