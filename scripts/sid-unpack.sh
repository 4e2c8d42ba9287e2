#!/bin/sh
# Usage: sid-unpack.sh PACKAGE PROGRAM
# Puts PACKAGE from Debian's development release (sid) into a cache
# directory, unpacked and not installed, and prints the path of PROGRAM
# (its path inside the package, e.g. usr/bin/kubectl). Debian's stable
# release lacks the programs the cluster tests need (kubectl, etcd), and
# installing sid's packages would fight what the machine may already have.
# The mirror is the host's own, read at run time.
set -eu

[ $# = 2 ] || {
	echo "usage: sid-unpack.sh PACKAGE PROGRAM" >&2
	exit 2
}
package=$1
program=$2
cache=${SID_CACHE:-/var/cache/matrixgen/$package-sid}
bin=$cache/root/$program
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources) || {
	echo "sid-unpack.sh: no /etc/apt/sources.list.d/debian.sources to read the Debian mirror from" >&2
	exit 1
}
mkdir -p "$cache/sources" "$cache/lists/partial" "$cache/debs"
printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"$mirror" >"$cache/sources/sid.sources"
set -- -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$cache/sources" \
	-o "Dir::State::Lists=$cache/lists" -o Acquire::Check-Valid-Until=false \
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
apt-get "$@" update -qq >&2
(cd "$cache/debs" && apt-get "$@" download "$package/sid" >&2)
dpkg-deb -x "$cache"/debs/"${package}"_*.deb "$cache/root"
[ -x "$bin" ] || {
	echo "sid-unpack.sh: $package has no $program" >&2
	exit 1
}
echo "$bin"
