#!/bin/sh
# Puts kubectl from Debian's development release (sid) into a cache
# directory and prints its path; the tests read MATRIXGEN_KUBECTL.
set -eu
KUBECTL_CACHE=${KUBECTL_CACHE:-/var/cache/matrixgen/kubectl-sid}
bin=$(SID_CACHE=$KUBECTL_CACHE "$(dirname "$0")/sid-unpack.sh" kubectl usr/bin/kubectl)
"$bin" version --client >&2
echo "$bin"
