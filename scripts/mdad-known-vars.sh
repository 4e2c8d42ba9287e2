#!/usr/bin/env bash
# Rewrites internal/mdad/known_vars.txt, the names of the variables
# matrix-docker-ansible-deploy's own roles define (roles/custom/*/defaults,
# roles/custom/*/vars) or set (group_vars/matrix_servers), from a checkout
# of the playbook:
#
#   scripts/mdad-known-vars.sh ../matrix-docker-ansible-deploy
#
# import-mdad tells a vars.yml name outside this list from one matrixgen
# does not translate, and suggests the closest name in it.
set -euo pipefail
playbook=${1:?usage: $0 PLAYBOOK_CHECKOUT}
out="$(cd "$(dirname "$0")/.." && pwd)/internal/mdad/known_vars.txt"
commit=$(git -C "$playbook" rev-parse HEAD)
(
	echo "# Variables of matrix-docker-ansible-deploy's own roles, at commit $commit."
	echo "# Written by scripts/mdad-known-vars.sh; do not edit."
	cd "$playbook"
	for f in roles/custom/*/defaults/main.yml roles/custom/*/vars/main.yml group_vars/matrix_servers; do
		grep -oE '^matrix_[A-Za-z0-9_]*:' "$f" || true
	done | tr -d ':' | LC_ALL=C sort -u
) >"$out.tmp"
mv "$out.tmp" "$out"
