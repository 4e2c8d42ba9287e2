#!/usr/bin/env bash
# The customize hooks are run by mmdebstrap, which passes the tree as $1.
# shellcheck disable=SC2016
# Builds the container images the boot tests run, from Debian packages, and
# tags them with the references a bundle's units use: no container registry
# is reachable here, so every image a bundle names must be made locally.
#
# Usage: scripts/e2e/images.sh REF...
#   REF  an image reference from a bundle's units (ghcr.io/element-hq/synapse:v1.157.1),
#        or one of the harness's own: host (the systemd host), client (matrix-nio)
#
# Each image is tagged matrixgen-e2e/<name>:<hash of its recipe and input
# files>; one whose tag exists is not rebuilt. A reference no recipe serves
# is an error: the caller decides what to do with the unit that names it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
test_deps=${MATRIXGEN_TEST_DEPS:-$root/../shared/test-deps}
traefik_bin=${MATRIXGEN_TRAEFIK:-$root/.tools/traefik}
# Dendrite's binaries, built from tools/dendrite by make dendrite-path into a
# directory named after that module's go.sum.
dendrite_dir=${MATRIXGEN_DENDRITE_DIR:-/var/cache/matrixgen/dendrite-$(sha256sum "$root/tools/dendrite/go.sum" | cut -c1-16)}
work=$(mktemp -d)
# An import fed by a failed mmdebstrap still makes an image: a build that
# did not finish removes the tag it was making, so that it is not taken
# for a finished one next time.
building=
trap 'rm -rf "$work"; [ -z "$building" ] || docker rmi --force "$building" >/dev/null 2>&1' EXIT

log() { printf 'images: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The mirror is the host's own, read at run time: it differs from machine to
# machine and is never written into the project.
mirror() {
	awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
		die "no /etc/apt/sources.list.d/debian.sources to read the Debian mirror from"
}

# recipe_hash NAME WORDS FILES...: what decides an image's content.
recipe_hash() {
	local name=$1 words=$2
	shift 2
	{
		printf '%s\n%s\n' "$name" "$words"
		local f
		for f in "$@"; do
			if [ -d "$f" ]; then
				(cd "$f" && find . -type f | LC_ALL=C sort | xargs sha256sum)
			else
				sha256sum <"$f"
			fi
		done
	} | sha256sum | cut -c1-16
}

# with_stop_signal TAG SIGNAL: docker import cannot set a stop signal; a
# one-line build on top of the imported image can.
with_stop_signal() {
	local out
	out=$(printf 'FROM %s\nSTOPSIGNAL %s\n' "$1" "$2" | DOCKER_BUILDKIT=0 docker build --quiet --tag "$1" - 2>&1) ||
		die "docker build of the stop signal for $1: $out"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# debian_rootfs SUITE PACKAGES HOOK...: a minimal Debian tree as a tar on
# stdout. Sid's and trixie's Release files are past their validity date on
# machines whose clock is ahead of the snapshot.
debian_rootfs() {
	local suite=$1 packages=$2
	shift 2
	local hooks=() h
	for h in "$@"; do hooks+=(--customize-hook="$h"); done
	mmdebstrap --quiet --variant=minbase --include="$packages" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		"${hooks[@]}" \
		"$suite" - "$(mirror)"
}

# Synapse, Valkey and the matrix-nio client come from one sid tree: they
# share most of their packages, and one build is a minute and a half.
sid_packages=matrix-synapse,python3-hiredis,python3-six,python3-matrix-nio,valkey-server,valkey-tools,curl,ca-certificates
build_sid() {
	local tag=$1
	# Debian renames Synapse's registration tool; the bundle calls it by
	# Synapse's own name. txredisapi, which Synapse needs for Redis and
	# Debian does not package, comes from the test dependencies.
	debian_rootfs sid "$sid_packages" \
		"copy-in $test_deps/txredisapi/txredisapi.py $test_deps/txredisapi/txredisapi-1.4.11.dist-info /usr/lib/python3/dist-packages/" \
		'chroot "$1" ln -sf /usr/bin/synapse_register_new_matrix_user /usr/local/bin/register_new_matrix_user' \
		'chroot "$1" python3 -c "import txredisapi; from synapse.util.check_dependencies import check_requirements; check_requirements(\"redis\")"' |
		docker import --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
}

# PostgreSQL MAJOR from the Debian suite that has it: a bundle's
# postgres.major picks the image, and the upgrade test needs two majors.
postgres_suite() {
	case $1 in
	15) echo bookworm ;;
	17) echo trixie ;;
	*) return 1 ;;
	esac
}

build_postgres() {
	local tag=$1 major=$2
	debian_rootfs "$(postgres_suite "$major")" "postgresql-$major,libnss-wrapper" \
		"copy-in $here/postgres-entrypoint.sh /usr/local/bin/" \
		'chroot "$1" chmod 0755 /usr/local/bin/postgres-entrypoint.sh' |
		docker import \
			--change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
			--change 'ENV LANG=C.UTF-8' \
			--change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]' \
			--change 'CMD ["postgres"]' \
			- "$tag" >/dev/null
	# PostgreSQL's fast shutdown, as the official image asks for: SIGTERM
	# waits for every client to leave.
	with_stop_signal "$tag" SIGINT
}

# coturn from Debian 12: the bundle's unit gives turnserver its config file
# as arguments, which the entrypoint takes as they are.
build_coturn() {
	local tag=$1
	debian_rootfs bookworm coturn |
		docker import --change 'ENTRYPOINT ["/usr/bin/turnserver"]' - "$tag" >/dev/null
}

# Dendrite's server and create-account on Debian 12, whose wget the bundle's
# health check calls; the unit's arguments go to the server.
build_dendrite() {
	local tag=$1
	[ -x "$dendrite_dir/dendrite" ] || die "no Dendrite binaries in $dendrite_dir: make dendrite-path builds them"
	debian_rootfs bookworm wget,ca-certificates \
		"copy-in $dendrite_dir/dendrite $dendrite_dir/create-account /usr/bin/" |
		docker import --change 'ENTRYPOINT ["/usr/bin/dendrite"]' - "$tag" >/dev/null
}

# The host: Debian 12 with systemd as PID 1, Docker, and the three webservers
# the bundle can write configs for (none of them enabled).
host_packages=systemd,systemd-sysv,dbus,docker.io,iproute2,procps,openssl,ca-certificates,curl,nginx,caddy,apache2,rsync,less
build_host() {
	local tag=$1
	debian_rootfs bookworm "$host_packages" \
		'chroot "$1" systemctl disable nginx.service apache2.service caddy.service' \
		'chroot "$1" systemctl mask systemd-firstboot.service getty@tty1.service console-getty.service' \
		'chroot "$1" sh -c "echo matrix-host > /etc/hostname"' |
		docker import \
			--change 'ENV container=docker' \
			--change 'CMD ["/lib/systemd/systemd"]' \
			- "$tag" >/dev/null
	# systemd shuts down on SIGRTMIN+3; SIGTERM would only re-execute it.
	with_stop_signal "$tag" SIGRTMIN+3
}

build_traefik() {
	local tag=$1
	[ -x "$traefik_bin" ] || die "no Traefik binary at $traefik_bin: make .tools/traefik builds it"
	mkdir -p "$work/traefik/usr/local/bin" "$work/traefik/tmp"
	cp "$traefik_bin" "$work/traefik/usr/local/bin/traefik"
	# A build with cgo links the C library: bring the libraries it names.
	local lib
	for lib in $(ldd "$traefik_bin" | grep -o '/[^ ]*'); do
		mkdir -p "$work/traefik$(dirname "$lib")"
		cp -L "$lib" "$work/traefik$lib"
	done
	tar -C "$work/traefik" -c . |
		docker import --change 'ENV PATH=/usr/local/bin' \
			--change 'ENTRYPOINT ["/usr/local/bin/traefik"]' - "$tag" >/dev/null
}

# Element Web, static-web-server and the Exim relay are not installable from
# Debian; one small Go program stands in for each (internal/boot/standin).
build_standin() {
	local tag=$1 role=$2
	mkdir -p "$work/standin-$role/tmp"
	CGO_ENABLED=0 go build -trimpath -o "$work/standin-$role/standin" "$root/internal/boot/standin"
	tar -C "$work/standin-$role" -c . |
		docker import --change "ENTRYPOINT [\"/standin\", \"$role\"]" - "$tag" >/dev/null
}

# The bridges and bots are not installable from Debian either: the
# standin's appservice role runs under the names their images start
# (the bundle's --entrypoint, or the image's command) and the names their
# health checks call.
build_appservice_standin() {
	local tag=$1 dir=$work/standin-appservice name
	mkdir -p "$dir/usr/bin" "$dir/tmp"
	CGO_ENABLED=0 go build -trimpath -o "$dir/standin" "$root/internal/boot/standin"
	for name in curl python3 node mautrix-whatsapp mautrix-signal mautrix-telegram mautrix-discord \
		mautrix-slack mautrix-gmessages mautrix-bluesky mautrix-meta mautrix-instagram; do
		ln -s /standin "$dir/usr/bin/$name"
	done
	tar -C "$dir" -c . |
		docker import --change 'ENV PATH=/usr/bin' \
			--change 'ENTRYPOINT ["/standin", "appservice"]' - "$tag" >/dev/null
}

# image_for REF: the harness image NAME and build command that serve REF.
image_for() {
	case $1 in
	host) echo "host build_host $host_packages" ;;
	client | */synapse:* | */valkey:*) echo "sid build_sid $sid_packages $test_deps/txredisapi" ;;
	*/postgres:*)
		local major=${1##*:}
		major=${major%%[!0-9]*}
		postgres_suite "$major" >/dev/null || return 1
		echo "postgres-$major build_postgres $major $here/postgres-entrypoint.sh"
		;;
	*/traefik:*) echo "traefik build_traefik - $traefik_bin" ;;
	*/coturn:*) echo "coturn build_coturn -" ;;
	*/dendrite-monolith:*) echo "dendrite build_dendrite - $dendrite_dir" ;;
	*/element-web:*) echo "element-web build_standin element-web $root/internal/boot/standin" ;;
	*/static-web-server:*) echo "static-web-server build_standin static-web-server $root/internal/boot/standin" ;;
	*/exim-relay:*) echo "exim-relay build_standin exim-relay $root/internal/boot/standin" ;;
	*/mautrix/*:* | */heisenbridge:* | */matrix-hookshot:* | */draupnir:* | */maubot:*)
		echo "appservice build_appservice_standin - $root/internal/boot/standin"
		;;
	*) return 1 ;;
	esac
}

ensure() {
	local ref=$1 spec name build arg inputs tag
	spec=$(image_for "$ref") || die "no recipe builds $ref"
	read -r name build arg inputs <<<"$spec"
	# shellcheck disable=SC2086 # inputs is a list of paths
	# The recipe is the build function's own text, so editing one image's
	# recipe rebuilds that image only.
	tag=matrixgen-e2e/$name:$(recipe_hash "$name" "$(declare -f debian_rootfs "$build") $arg" $inputs)
	if ! have_image "$tag"; then
		log "building $tag for $ref"
		local start=$SECONDS
		building=$tag
		"$build" "$tag" "$arg"
		building=
		log "built $tag in $((SECONDS - start)) s"
	fi
	case $ref in
	host | client) docker tag "$tag" "matrixgen-e2e/$ref:latest" ;;
	*) docker tag "$tag" "$ref" ;;
	esac
}

[ $# -gt 0 ] || die "usage: images.sh REF..."
for ref in "$@"; do ensure "$ref"; done
