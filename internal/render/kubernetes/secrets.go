package kubernetes

import (
	"fmt"
	"strings"

	"github.com/matrixgen/matrixgen/internal/escape"
	"github.com/matrixgen/matrixgen/internal/plan"
)

// fillScript is the init container's program: copy each file from its
// template and put every secret's value where its placeholder stands, as
// install.sh does on a host (awk's index() matches literally, so no value
// is read as a pattern).
func fillScript(fills []fill) string {
	var b strings.Builder
	b.WriteString(`set -eu
umask 027
fill() {
	from=$1 to=$2
	shift 2
	mkdir -p "$(dirname "$to")"
	cp "$from" "$to.new"
	for secret in "$@"; do
		SECRET_VALUE=$(cat "` + secretRoot + `/$secret/$secret") PLACEHOLDER="__MATRIXGEN_SECRET_${secret}__" awk '{
			out = ""; line = $0; p = ENVIRON["PLACEHOLDER"]
			while ((i = index(line, p)) > 0) {
				out = out substr(line, 1, i - 1) ENVIRON["SECRET_VALUE"]
				line = substr(line, i + length(p))
			}
			print out line
		}' "$to.new" >"$to.tmp"
		mv "$to.tmp" "$to.new"
	done
	mv "$to.new" "$to"
}
`)
	for _, f := range fills {
		fmt.Fprintf(&b, "fill %s\n", escape.ShellWords(append([]string{f.from, f.to}, f.secrets...)))
	}
	return b.String()
}

var secretKinds = map[plan.SecretKind]string{
	plan.RandomToken: "random", plan.Provided: "provided", plan.SigningKey: "signing-key",
	plan.RSAKey: "rsa-key", plan.ProvidedKey: "provided-key", plan.MatrixPEMKey: "matrix-pem-key",
	plan.ECKey: "ec-key", plan.HexKey: "hex",
}

// secretObject is the name of the Secret that holds a secret of the plan:
// its host name, with "_" (which a host's file name may hold and an
// object's name may not) as "-". The key inside the Secret keeps the host
// name, which is also the file name the pods see.
func secretObject(name string) string { return strings.ReplaceAll(name, "_", "-") }

// checkSecretObjects refuses two secrets that would share one Secret.
func checkSecretObjects(p *plan.Plan) error {
	seen := map[string]string{}
	for _, s := range p.Secrets {
		obj := secretObject(s.Name)
		if prev, dup := seen[obj]; dup {
			return fmt.Errorf("secrets %s and %s would both be the Secret %s", prev, s.Name, obj)
		}
		seen[obj] = s.Name
	}
	return nil
}

// secretsScript creates, in the cluster, every secret the deployment
// reads and the cluster lacks: one Secret a secret, named as the host
// bundle names it (secretObject), with one key of the host's name. It
// keeps existing ones, takes a host's own from --from (a copy of the host's files at
// their paths, so that a server moves with its keys and passwords), and
// makes the others as install.sh does.
func secretsScript(p *plan.Plan) []byte {
	var b strings.Builder
	b.WriteString(`#!/bin/sh
` + header + `# Creates the secrets of the deployment in the cluster: run it once before
# kubectl apply -k, and again after a change that adds a secret. Existing
# secrets are kept. With --from DIR, a secret missing from the cluster is
# taken from DIR plus its path on the host (a copy of a host's files, made
# with rsync -aR, see docs/cluster.md) before one is made. A secret the
# config imports from a file of an earlier installation (such as
# synapse.signing_key_import) is taken from that file, under DIR or where
# this script runs, as install.sh takes it on a host.
set -eu

KUBECTL=${KUBECTL:-kubectl}
NAMESPACE=` + escape.Shell(p.Cluster.Namespace) + `
FROM=

die() {
	echo "create-secrets.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--from)
		[ $# -ge 2 ] || die "--from needs a directory"
		FROM=$2
		shift 2
		;;
	-h | --help)
		echo "usage: create-secrets.sh [--from DIR]"
		exit 0
		;;
	*) die "unknown argument: $1" ;;
	esac
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
umask 077

random_token() {
	LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"
}

make_value() { # name kind length description host-path object
	case $2 in
	random) random_token "$3" ;;
	signing-key)
		printf 'ed25519 a_%s %s\n' "$(random_token 4)" "$(head -c 32 /dev/urandom | base64 | tr -d '=\n')"
		;;
	matrix-pem-key)
		printf -- '-----BEGIN MATRIX PRIVATE KEY-----\nKey-ID: ed25519:a_%s\n\n%s\n-----END MATRIX PRIVATE KEY-----\n' \
			"$(random_token 4)" "$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
		;;
	rsa-key) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$3" 2>/dev/null ||
		die "openssl could not make secret $1 ($4)" ;;
	ec-key) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 2>/dev/null ||
		die "openssl could not make secret $1 ($4)" ;;
	hex) LC_ALL=C tr -dc '0-9a-f' </dev/urandom | head -c "$3" ;;
	*) die "secret $1 ($4) is missing: create it with $KUBECTL -n $NAMESPACE create secret generic $6 --from-file=$1=FILE, or give --from a copy of $5" ;;
	esac
}

# import_path prints the first file that holds the secret: its host path
# under --from, then the file it is imported from (under --from, then
# here).
import_path() { # host-path import-from
	if [ -n "$FROM" ] && [ -s "$FROM$1" ]; then
		echo "$FROM$1"
	elif [ "$2" != - ] && [ -n "$FROM" ] && [ -s "$FROM$2" ]; then
		echo "$FROM$2"
	elif [ "$2" != - ] && [ -s "$2" ]; then
		echo "$2"
	fi
}

ensure_secret() { # name kind length description host-path object import-from
	if "$KUBECTL" -n "$NAMESPACE" get secret "$6" >/dev/null 2>&1; then
		echo "keeping secret $6"
		return
	fi
	source=$(import_path "$5" "$7")
	if [ -n "$source" ]; then
		cp "$source" "$WORK/$1"
		echo "importing secret $1 from $source"
	else
		make_value "$@" >"$WORK/$1"
		[ -s "$WORK/$1" ] || die "could not make secret $1"
		echo "creating secret $6"
	fi
	"$KUBECTL" -n "$NAMESPACE" create secret generic "$6" --from-file="$1=$WORK/$1" >/dev/null
	rm -f "$WORK/$1"
}

"$KUBECTL" get namespace "$NAMESPACE" >/dev/null 2>&1 || "$KUBECTL" create namespace "$NAMESPACE" >/dev/null
`)
	for _, s := range p.Secrets {
		hostPath := s.Path
		if hostPath == "" {
			hostPath = p.Host.SecretsDir + "/" + s.Name
		}
		importFrom := s.ImportFrom
		if importFrom == "" {
			importFrom = "-"
		}
		fmt.Fprintf(&b, "ensure_secret %s\n", escape.ShellWords([]string{s.Name, secretKinds[s.Kind], fmt.Sprint(max(s.Length, 0)), s.Description, hostPath, secretObject(s.Name), importFrom}))
	}
	return []byte(b.String())
}
