package compile

import (
	"fmt"

	"github.com/matrixgen/matrixgen/internal/plan"
)

const (
	mailerUnit    = "matrix-exim-relay"
	mailerPort    = 8025
	eximImageUser = "100:101"
)

func addMailer(b *builder) {
	m := b.cfg.Mailer
	dir := b.dataPath("exim-relay")
	b.dir(dir, 0o750)
	b.plan.Dirs = append(b.plan.Dirs, plan.Dir{Path: dir + "/spool", Mode: 0o750, Owner: eximImageUser})
	env := []plan.EnvVar{{Name: "HOSTNAME", Value: b.cfg.Hostnames.Homeserver}}
	svc := plan.Service{
		Unit:        mailerUnit,
		Description: "Exim mail relay",
		Image:       m.Image,
		Mounts:      []plan.Mount{{Source: dir + "/spool", Target: "/var/spool/exim"}},
		Security: plan.Security{ImageUser: true,
			Why: "exim runs only as the image's own exim user (uid 100, gid 101), which owns the spool"},
		Tmpfs:    []string{"/tmp"},
		Networks: []string{b.cfg.Host.Networks.Homeserver},
		Listens:  []plan.Listen{{Name: "smtp", Port: mailerPort}},
	}
	if sh := m.Smarthost; sh != nil {
		env = append(env, plan.EnvVar{Name: "SMARTHOST", Value: fmt.Sprintf("%s::%d", sh.Host, sh.Port)})
		if sh.User != "" {
			password := b.providedSecret("mailer-smarthost-password", "password of "+sh.User+" on "+sh.Host, mailerUnit)
			env = append(env, plan.EnvVar{Name: "SMTP_USERNAME", Value: sh.User})
			// The relay reads its password from the environment only, so it
			// goes into an env file that install.sh fills and keeps private.
			envFile := dir + "/env-secret"
			b.file(plan.File{Path: envFile, Format: plan.Raw, Owner: "root",
				Content: []byte("SMTP_PASSWORD=" + password.Placeholder() + "\n"),
				Secrets: []string{string(password)}, Restarts: []string{mailerUnit}})
			svc.EnvFile = envFile
		}
	}
	svc.Env = env
	b.service(svc)
}

func synapseEmail(b *builder) obj {
	m := b.cfg.Mailer
	return obj{
		"smtp_host":                  mailerUnit,
		"smtp_port":                  mailerPort,
		"force_tls":                  false,
		"require_transport_security": false,
		"enable_tls":                 false,
		"notif_from":                 fmt.Sprintf("%s <%s>", m.SenderName, m.Sender),
		"app_name":                   "Matrix",
		"enable_notifs":              true,
		"client_base_url":            "https://" + b.cfg.Hostnames.Element,
	}
}
