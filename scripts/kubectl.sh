#!/bin/sh
# Puts kubectl from Debian's development release (sid) into a cache
# directory and prints its path; the tests read MATRIXGEN_KUBECTL. Debian's
# stable release has no kubectl, and installing sid's package would fight
# a kubectl the machine may already have, so the package is unpacked, not
# installed. The mirror is the host's own, read at run time.
set -eu

cache=${KUBECTL_CACHE:-/var/cache/matrixgen/kubectl-sid}
bin=$cache/root/usr/bin/kubectl
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources) || {
	echo "kubectl.sh: no /etc/apt/sources.list.d/debian.sources to read the Debian mirror from" >&2
	exit 1
}
mkdir -p "$cache/sources" "$cache/lists/partial" "$cache/debs"
printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"$mirror" >"$cache/sources/sid.sources"
set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$cache/sources" \
	-o "Dir::State::Lists=$cache/lists" -o Acquire::Check-Valid-Until=false \
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
apt-get "$@" update -qq >&2
(cd "$cache/debs" && apt-get "$@" download kubectl/sid >&2)
dpkg-deb -x "$cache"/debs/kubectl_*.deb "$cache/root"
"$bin" version --client >&2
echo "$bin"
