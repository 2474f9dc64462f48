#!/usr/bin/env bash
# Logical backup of the profile database (deploy/BACKUP.md): one consistent pg_dump snapshot in
# custom format. The connection comes from the standard libpq variables (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE; the database defaults to "profile").
#
#   deploy/backup/profile-backup.sh FILE [pg_dump options...]
#
# The encryption keys are not in the database, so not in the dump: the script names the key
# ids the dumped rows were sealed with, for the operator to check the key store still has them.
set -euo pipefail

out=${1:?usage: profile-backup.sh FILE [pg_dump options...]}
shift
export PGDATABASE=${PGDATABASE:-profile}

# pg_dump refuses a server of a newer major version than itself.
client=$(pg_dump --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
server=$(psql -X -A -t -c "SHOW server_version_num")
server=$((server / 10000))
if ((client < server)); then
    echo "pg_dump $client cannot dump a PostgreSQL $server server; use pg_dump $server or newer" \
         "(e.g. run it in the database pod: kubectl exec <cluster>-1 -c postgres -- pg_dump ...)" >&2
    exit 2
fi

key_ids() {
    psql -X -A -t -c "SELECT key_id FROM customers UNION SELECT key_id FROM customer_documents"
}

# Key ids before and after the dump: a rotation running meanwhile may move rows between keys,
# and the dump's snapshot lies in between; the union covers it.
before=$(key_ids)
pg_dump --format=custom --file="$out.partial" "$@"
after=$(key_ids)
mv "$out.partial" "$out"
needed=$(printf '%s\n%s\n' "$before" "$after" | sed '/^$/d' | sort -u | tr '\n' ' ')
echo "profile: dump written to $out"
echo "profile: restoring it needs encryption key ids: ${needed:-none} (and the blind index key); they are not in the dump"
