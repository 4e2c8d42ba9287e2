#!/bin/sh
# Puts etcd from Debian's development release (sid) into a cache directory
# and prints its path, for `make e2e-k8s`.
set -eu
exec "$(dirname "$0")/sid-unpack.sh" etcd-server usr/bin/etcd
