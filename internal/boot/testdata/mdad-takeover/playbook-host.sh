#!/bin/sh
# Lays a host out as matrix-docker-ansible-deploy leaves it for Synapse
# with its PostgreSQL, from the playbook's documented layout: the matrix
# system user, /matrix/postgres/data with the superuser matrix, the
# database synapse owned by the role synapse, /matrix/synapse/config with
# homeserver.yaml and the signing key, the media store under
# /matrix/synapse/storage, the Docker network matrix that Docker gave its
# addresses, and the units matrix-postgres and matrix-synapse running the
# containers of those names. The playbook's Traefik is left out: Synapse
# publishes its client port on the host instead, for the test's client.
# The official PostgreSQL image listens on every address by its own
# configuration; the tests' image, as the bundle runs it, by an argument.
#
# Takes from the environment: DOMAIN, POSTGRES_IMAGE, SYNAPSE_IMAGE,
# SUPERUSER_PASSWORD, DB_PASSWORD, MACAROON_SECRET, REGISTRATION_SECRET.
set -eu

groupadd --system matrix
useradd --system --gid matrix --no-create-home --home-dir /matrix matrix
uid=$(id -u matrix)
gid=$(id -g matrix)
mkdir -p /matrix/postgres/data /matrix/synapse/config /matrix/synapse/storage/media-store
chown -R matrix:matrix /matrix
chmod 0700 /matrix/postgres/data
docker network create matrix >/dev/null

umask 077
cat >/matrix/postgres/env-postgres-server <<ENV
POSTGRES_USER=matrix
POSTGRES_PASSWORD=$SUPERUSER_PASSWORD
POSTGRES_DB=matrix
POSTGRES_INITDB_ARGS=--encoding=UTF8 --lc-collate=C --lc-ctype=C
ENV

cat >/etc/systemd/system/matrix-postgres.service <<UNIT
[Unit]
Description=matrix-postgres
Requires=docker.service
After=docker.service

[Service]
ExecStartPre=-/usr/bin/env docker kill matrix-postgres
ExecStartPre=-/usr/bin/env docker rm matrix-postgres
ExecStart=/usr/bin/env docker run --rm --name=matrix-postgres --user=$uid:$gid --network=matrix --tmpfs=/var/run/postgresql --env-file=/matrix/postgres/env-postgres-server --mount=type=bind,src=/matrix/postgres/data,dst=/var/lib/postgresql/data $POSTGRES_IMAGE postgres -c listen_addresses=*
ExecStop=-/usr/bin/env docker stop --time=60 matrix-postgres
Restart=always

[Install]
WantedBy=multi-user.target
UNIT

cat >/matrix/synapse/config/homeserver.yaml <<YAML
server_name: "$DOMAIN"
public_baseurl: "https://matrix.$DOMAIN/"
pid_file: /tmp/homeserver.pid
report_stats: false
trusted_key_servers: []
listeners:
  - port: 8008
    type: http
    tls: false
    x_forwarded: true
    bind_addresses: ["::"]
    resources:
      - names: [client, federation]
        compress: false
database:
  name: psycopg2
  args:
    user: synapse
    password: "$DB_PASSWORD"
    database: synapse
    host: matrix-postgres
    cp_min: 5
    cp_max: 10
log_config: "/data/$DOMAIN.log.config"
media_store_path: /matrix-media-store-parent/media-store
max_upload_size: 50M
signing_key_path: "/data/$DOMAIN.signing.key"
macaroon_secret_key: "$MACAROON_SECRET"
registration_shared_secret: "$REGISTRATION_SECRET"
enable_registration: false
YAML
cat >"/matrix/synapse/config/$DOMAIN.log.config" <<YAML
version: 1
formatters:
  plain:
    format: "%(asctime)s %(name)s %(levelname)s %(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: plain
root:
  level: INFO
  handlers: [console]
disable_existing_loggers: false
YAML
chown -R matrix:matrix /matrix/synapse

cat >/etc/systemd/system/matrix-synapse.service <<UNIT
[Unit]
Description=matrix-synapse
Requires=docker.service matrix-postgres.service
After=docker.service matrix-postgres.service

[Service]
ExecStartPre=-/usr/bin/env docker kill matrix-synapse
ExecStartPre=-/usr/bin/env docker rm matrix-synapse
ExecStart=/usr/bin/env docker run --rm --name=matrix-synapse --user=$uid:$gid --network=matrix --publish=8008:8008 --mount=type=bind,src=/matrix/synapse/config,dst=/data,readonly --mount=type=bind,src=/matrix/synapse/storage,dst=/matrix-media-store-parent --entrypoint=python3 $SYNAPSE_IMAGE -m synapse.app.homeserver --config-path=/data/homeserver.yaml
ExecStop=-/usr/bin/env docker stop --time=60 matrix-synapse
Restart=always

[Install]
WantedBy=multi-user.target
UNIT

# The playbook has Synapse write its signing key once, before the first start.
docker run --rm --user="$uid:$gid" --mount=type=bind,src=/matrix/synapse/config,dst=/data \
	--entrypoint=python3 "$SYNAPSE_IMAGE" -m synapse.app.homeserver \
	--config-path=/data/homeserver.yaml --generate-keys

systemctl daemon-reload
systemctl enable --now matrix-postgres.service
ready=0
for _ in $(seq 120); do
	if docker exec matrix-postgres pg_isready -h 127.0.0.1 -U matrix >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 1
done
[ "$ready" = 1 ] || { echo "PostgreSQL did not start" >&2; exit 1; }
# The playbook's PostgreSQL role makes each service's role and database.
docker exec -i matrix-postgres psql -v ON_ERROR_STOP=1 -U matrix -d matrix >/dev/null <<SQL
CREATE ROLE synapse LOGIN PASSWORD '$DB_PASSWORD';
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
SQL

systemctl enable --now matrix-synapse.service
for _ in $(seq 180); do
	if docker exec matrix-synapse python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8008/health")' 2>/dev/null; then
		exit 0
	fi
	sleep 1
done
echo "Synapse did not start" >&2
journalctl --no-pager --lines=40 -u matrix-synapse >&2
exit 1
