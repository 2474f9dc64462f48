#!/usr/bin/env bash
# Logical backup of one component's database (deploy/BACKUP.md): one consistent pg_dump snapshot
# in custom format. The connection comes from the standard libpq variables (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE; the database defaults to the component's name).
#
#   deploy/backup/backup.sh COMPONENT FILE [pg_dump options...]
#
# The encryption keys are not in the database, so not in the dump: where the component seals
# fields (profile, feedback), the script names the key ids of the dumped values (key-ids.sh),
# for the operator to check the key store still has them.
set -euo pipefail

usage="usage: backup.sh COMPONENT FILE [pg_dump options...]"
component=${1:?$usage}
out=${2:?$usage}
shift 2
export PGDATABASE=${PGDATABASE:-$component}
here=$(dirname "$0")

# pg_dump refuses a server of a newer major version than itself.
client=$(pg_dump --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
server=$(psql -X -A -t -c "SHOW server_version_num")
server=$((server / 10000))
if ((client < server)); then
    echo "pg_dump $client cannot dump a PostgreSQL $server server; use pg_dump $server or newer" \
         "(e.g. run it in the database pod: kubectl exec <cluster>-1 -c postgres -- pg_dump ...)" >&2
    exit 2
fi

# Key ids before and after the dump: a rotation running meanwhile may move rows between keys,
# and the dump's snapshot lies in between; the union covers it.
before=$("$here/key-ids.sh" "$component")
pg_dump --format=custom --file="$out.partial" "$@"
after=$("$here/key-ids.sh" "$component")
mv "$out.partial" "$out"
needed=$(printf '%s\n%s\n' "$before" "$after" | sed '/^$/d' | sort -u | tr '\n' ' ')
echo "$component: dump written to $out"
if [[ -n $needed ]]; then
    echo "$component: restoring it needs encryption key ids: $needed(and the blind index key where it has one); they are not in the dump"
else
    echo "$component: it holds no sealed fields; restoring it needs no encryption key"
fi
