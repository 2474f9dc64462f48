#!/usr/bin/env bash
# The encryption key ids that COMPONENT's database (PGDATABASE) holds sealed values under, one
# per line: a sealed value is stored as "<key id>:<ciphertext>". Nothing for a component that
# seals nothing. The columns are the data catalogue's encrypted fields (services/*/declarations.py;
# tests/unit/deploy/test_backup_scripts.py keeps this list equal to it). Used by backup.sh and
# restore.sh.
#
#   deploy/backup/key-ids.sh COMPONENT
set -euo pipefail

component=${1:?usage: key-ids.sh COMPONENT}
case $component in
    profile) sealed="customers.name customers.national_id customers.phone customers.email customers.birth_date
                     customers.address customers.nationality customers.residence_country customers.occupation
                     customer_documents.document_number screening_alerts.reasons screening_decisions.reason" ;;
    feedback) sealed="cases.description case_notes.body feedback.comment" ;;
    *) sealed="" ;;
esac

query=""
for column in $sealed; do
    table=${column%%.*}
    name=${column#*.}
    query+="${query:+ UNION }SELECT split_part(\"$name\", ':', 1) FROM \"$table\" WHERE \"$name\" IS NOT NULL"
done
if [[ -n $query ]]; then
    psql -X -A -t -c "$query ORDER BY 1"
fi
