"""The record of processing activities (GDPR art. 30, PIPL art. 51), generated from the data
catalogue of every component (services/kit/catalogue.py); a unit test keeps the committed file
in step with the code.

    python -m services.ropa > docs/record-of-processing.md
"""

from services.components import COMPONENTS, spec_of
from services.kit.catalogue import Category
from services.kit.retention import DEFAULT_RETENTION_DAYS

CONTROLLER = "the bank operating this CRM (see the consent receipts for the controller's contact)"


def _days(category: str) -> str:
    days = DEFAULT_RETENTION_DAYS.get(category)
    return "with its record" if days is None else f"{days} days"


def render() -> str:
    lines = [
        "# Record of processing activities",
        "",
        "Generated from the data catalogue (`python -m services.ropa > docs/record-of-processing.md`); do not edit.",
        f"Controller: {CONTROLLER}. Every component serves its part at `GET /api/v1/data-declarations`; the "
        "gateway serves them merged.",
        "",
        "Retention per data category (defaults; each component's `<PREFIX>_RETENTION_DAYS` may set others): "
        + ", ".join(f"{c} {_days(c)}" for c in Category if c in DEFAULT_RETENTION_DAYS)
        + "; operational records live as long as the record they belong to, audit trails are never erased. "
        "A legal hold suspends retention and erasure of a customer's data in every component.",
        "",
        "Legend: sens. = sensitivity (internal / confidential / restricted); enc. = encrypted at rest "
        "(AES-256-GCM); id. = identifies a person (never shared with partners); erasure = what erasing the "
        "customer does to the field.",
    ]
    for component in COMPONENTS:
        catalogue = spec_of(component).catalogue
        lines += ["", f"## {component}"]
        for table in catalogue.tables.values():
            lines += [
                "",
                f"### {component}.{table.name}",
                "",
                f"Purpose: {table.purpose}  ",
                f"Retention counted from: {table.retention_from}",
                "",
                "| field | category | sens. | enc. | id. | erasure | description |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {f.name} | {f.category} | {f.sensitivity} | {'yes' if f.encrypted else ''} | "
                f"{'yes' if f.identifying else ''} | {f.erasure} | {f.description} |"
                for f in table.fields
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
