#!/usr/bin/env bash
# Restore a component's dump (backup.sh) into a new, empty database (deploy/BACKUP.md). The
# connection comes from the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD) and PGDATABASE
# names the target, which must exist and be empty. Connect as the role that should own the
# tables (the service's database owner): ownership in the dump is not restored.
#
#   deploy/backup/restore.sh COMPONENT FILE [pg_restore options...]
set -euo pipefail

usage="usage: restore.sh COMPONENT FILE [pg_restore options...]"
component=${1:?$usage}
in=${2:?$usage}
shift 2
target=${PGDATABASE:?set PGDATABASE to the new, empty database to restore into}
here=$(dirname "$0")

tables=$(psql -X -A -t -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if ((tables > 0)); then
    echo "refusing to restore: database $target already has $tables tables; restore into a new, empty one" >&2
    exit 2
fi

pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$target" "$@" "$in"
psql -X -q -c "ANALYZE"

needed=$("$here/key-ids.sh" "$component" | tr '\n' ' ' | sed 's/ $//')
echo "$component: restored $in into $target"
if [[ -n $needed ]]; then
    upper=$(echo "$component" | tr '[:lower:]' '[:upper:]')
    echo "$component: its values are sealed with key ids: $needed; every one must be in ${upper}_ENCRYPTION_KEYS" \
         "(the $component-keys Secret, with the same blind index key where it has one) before the service reads them"
fi
echo "$component: next: crm migrate $component; crm verify-audit $component; read a known record (deploy/BACKUP.md)"
