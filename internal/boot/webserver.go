package boot

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// SetUpWebserver does on the host what docs/reverse-proxy.md tells an
// operator with their own webserver to do: certificates where the config
// expects them (self-signed here: no ACME server is reachable), the bundle's
// proxy/<type>/ files included, and a site for the base domain that serves
// the well-known snippet. bundleDir is where the bundle was copied on the host.
func SetUpWebserver(ctx context.Context, h *Host, proxyType, bundleDir, domain string, hostnames []string) error {
	return SetUpWebserverWithCA(ctx, h, proxyType, bundleDir, domain, hostnames, nil)
}

// SetUpWebserverWithCA is SetUpWebserver with certificates signed by ca,
// which other servers can verify, instead of self-signed ones; nil is
// self-signed. Caddy makes its own (local_certs) either way.
func SetUpWebserverWithCA(ctx context.Context, h *Host, proxyType, bundleDir, domain string, hostnames []string, ca *CA) error {
	script, ok := webserverScripts[proxyType]
	if !ok {
		return fmt.Errorf("no webserver set-up for reverse_proxy.type %q", proxyType)
	}
	certificates := selfSignedCertificates
	if ca != nil {
		if err := installCertificates(ctx, h, ca, append(slices.Clone(hostnames), domain)); err != nil {
			return err
		}
		certificates = ""
	}
	setup := "set -eu\nBUNDLE=" + bundleDir + "/proxy/" + proxyType + "\nDOMAIN=" + domain +
		"\nHOSTS='" + strings.Join(hostnames, " ") + "'\n" + certificates + script
	_, err := h.Run(ctx, strings.NewReader(setup), "sh", "-s")
	return err
}

// installCertificates puts a certificate from ca for each hostname where
// certbot would.
func installCertificates(ctx context.Context, h *Host, ca *CA, hostnames []string) error {
	for _, host := range hostnames {
		fullchain, key, err := ca.Issue(host)
		if err != nil {
			return err
		}
		dir := "/etc/letsencrypt/live/" + host
		if _, err := h.Output(ctx, "mkdir", "-p", dir); err != nil {
			return err
		}
		if _, err := h.Run(ctx, bytes.NewReader(fullchain), "sh", "-c", "cat >"+dir+"/fullchain.pem"); err != nil {
			return err
		}
		if _, err := h.Run(ctx, bytes.NewReader(key), "sh", "-c", "umask 077 && cat >"+dir+"/privkey.pem"); err != nil {
			return err
		}
	}
	return nil
}

// certbot's layout, which reverse_proxy.tls.certificate_dir defaults to.
const selfSignedCertificates = `
for host in $HOSTS $DOMAIN; do
	dir=/etc/letsencrypt/live/$host
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=$host" \
		-addext "subjectAltName=DNS:$host" \
		-keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
done
`

var webserverScripts = map[string]string{
	"nginx": `
cp "$BUNDLE/matrix.conf" /etc/nginx/conf.d/matrix.conf
cp "$BUNDLE/base-domain-well-known.conf" /etc/nginx/snippets/matrix-well-known.conf
cat >/etc/nginx/conf.d/base-domain.conf <<EOF
server {
    listen 443 ssl;
    server_name $DOMAIN;
    ssl_certificate /etc/letsencrypt/live/$DOMAIN/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/$DOMAIN/privkey.pem;
    include snippets/matrix-well-known.conf;
}
EOF
nginx -t
systemctl enable --now nginx || { journalctl -u nginx -n 30 --no-pager; exit 1; }
systemctl reload nginx
`,
	"caddy": `
mkdir -p /etc/caddy/matrix
cp "$BUNDLE"/* /etc/caddy/matrix/
# Caddy's own CA instead of ACME, which no test network reaches.
cat >/etc/caddy/Caddyfile <<EOF
{
	local_certs
	skip_install_trust
}
import /etc/caddy/matrix/Caddyfile.matrix
$DOMAIN {
	import /etc/caddy/matrix/base-domain-well-known.caddy
}
EOF
caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile
systemctl enable --now caddy || { journalctl -u caddy -n 30 --no-pager; exit 1; }
systemctl reload caddy
`,
	"apache": `
# The modules matrix.conf names in its a2enmod line, as the operator
# enables them, and those this site's own lines use.
mods=$(sed -n 's/^#[[:space:]]*a2enmod //p' "$BUNDLE/matrix.conf" | head -n 1)
# shellcheck disable=SC2086 # a list of module names
a2enmod -q $mods proxy proxy_http proxy_wstunnel headers alias ssl rewrite >/dev/null
mkdir -p /etc/apache2/matrix
cp "$BUNDLE"/* /etc/apache2/matrix/
cp "$BUNDLE/matrix.conf" /etc/apache2/sites-available/matrix.conf
grep -q '^Listen 8448' /etc/apache2/ports.conf || echo 'Listen 8448 https' >>/etc/apache2/ports.conf
cat >/etc/apache2/sites-available/base-domain.conf <<EOF
<VirtualHost *:443>
    ServerName $DOMAIN
    SSLEngine on
    SSLCertificateFile /etc/letsencrypt/live/$DOMAIN/fullchain.pem
    SSLCertificateKeyFile /etc/letsencrypt/live/$DOMAIN/privkey.pem
    Include /etc/apache2/matrix/base-domain-well-known.conf
</VirtualHost>
EOF
a2ensite -q matrix base-domain >/dev/null
apache2ctl configtest
systemctl enable --now apache2 || { journalctl -u apache2 -n 30 --no-pager; exit 1; }
systemctl reload apache2
`,
}
