#!/bin/sh
# Starts a Docker engine for the boot tests when none answers: CI machines
# and developers' containers have no init system that would start it.
set -eu
docker info >/dev/null 2>&1 && exit 0
command -v dockerd >/dev/null || { echo "start-docker.sh: no dockerd: apt-get install docker.io" >&2; exit 1; }
log=${TMPDIR:-/tmp}/matrixgen-dockerd.log
nohup dockerd >"$log" 2>&1 &
i=0
until docker info >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -le 60 ] || { echo "start-docker.sh: dockerd did not answer in 30 s; see $log" >&2; exit 1; }
	sleep 0.5
done
