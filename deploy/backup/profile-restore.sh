#!/usr/bin/env bash
# Restore a profile dump (profile-backup.sh) into a new, empty database (deploy/BACKUP.md).
# The connection comes from the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD) and
# PGDATABASE names the target, which must exist and be empty. Connect as the role that should
# own the tables (the service's database owner): ownership in the dump is not restored.
#
#   deploy/backup/profile-restore.sh FILE [pg_restore options...]
set -euo pipefail

in=${1:?usage: profile-restore.sh FILE [pg_restore options...]}
shift
target=${PGDATABASE:?set PGDATABASE to the new, empty database to restore into}

tables=$(psql -X -A -t -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if ((tables > 0)); then
    echo "refusing to restore: database $target already has $tables tables; restore into a new, empty one" >&2
    exit 2
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$target" "$@" "$in"
psql -X -q -c "ANALYZE"

needed=$(psql -X -A -t -c "SELECT key_id FROM customers UNION SELECT key_id FROM customer_documents ORDER BY 1" \
         | tr '\n' ' ')
echo "profile: restored $in into $target"
echo "profile: its rows are sealed with key ids: ${needed:-none}; every one must be in PROFILE_ENCRYPTION_KEYS" \
     "(the profile-keys Secret), with the same blind index key, before the service reads them"
echo "profile: next: crm migrate profile; crm verify-audit profile; read a known customer (deploy/BACKUP.md)"
