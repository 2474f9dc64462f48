"""`crm churn ...`: train, score, list, promote and roll back churn models; batch features.

    crm churn train --data FILE --spec SPEC [--report FILE] [--force]
    crm churn score --data FILE --spec SPEC --out FILE [--model VERSION]
    crm churn models
    crm churn rollback [--to VERSION]
    crm churn promote VERSION
    crm churn retire                    no model: online scoring falls back to the rules
    crm churn features --history FILE --at TIME --out FILE [--label-horizon-days N]

FILE is CSV (or Parquet by extension); SPEC is YAML (see services/churn/model/dataset.py).
"""

import argparse
import json
import sys
from datetime import datetime

from services.churn.settings import ChurnSettings


def _registry():
    from services.churn.model.registry import Registry

    return Registry(ChurnSettings().models_path)


def _figure(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print_report(report: dict) -> None:
    m, b = report["metrics"], report["baseline_logistic_regression"]
    rows = report["rows"]
    print(
        f"model {report['version']}: {rows['total']} rows ({rows['fit']} fit, {rows['calibration']} calibration, "
        f"{rows['validation']} validation, {report['validation']}); {rows['blank_label_dropped']} blank labels skipped"
    )
    if any(report["malformed_values"].values()):
        print(
            "malformed values read as missing: "
            + ", ".join(f"{k} {v}" for k, v in report["malformed_values"].items() if v)
        )
    print(f"{'':24}{'LightGBM':>12}{'logistic':>12}")
    for key, title in (
        ("auc", "AUC"),
        ("pr_auc", "PR-AUC"),
        ("lift_top_decile", "lift, top decile"),
        ("brier", "Brier score"),
    ):
        print(f"{title:24}{_figure(m[key]):>12}{_figure(b[key]):>12}")
    print("calibration (validation rows):  predicted  observed  rows")
    for row in m["calibration"]:
        print(
            f"  {row['from']:.1f}-{row['to']:.1f}{'':22}{row['predicted']:>7.3f}  {row['observed']:>8.3f}  {row['rows']:>4}"
        )
    print("feature importance (share of gain):")
    for item in report["importance"]:
        print(f"  {item['feature']:30} {item['gain_share']:6.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm churn", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("train", help="train a model from a labelled file; promote it if it beats the promoted one")
    p.add_argument("--data", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--report", help="write the full report as JSON here")
    p.add_argument("--force", action="store_true", help="promote even if it does not beat the promoted model")
    p.add_argument("--no-progress", action="store_true")
    p = commands.add_parser("score", help="write id,probability,band for every row of a file")
    p.add_argument("--data", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", help="model version (default: the promoted one)")
    commands.add_parser("models", help="list model versions")
    p = commands.add_parser("rollback", help="promote the version promoted before the current one (or --to VERSION)")
    p.add_argument("--to", type=int)
    p = commands.add_parser("promote", help="promote a version")
    p.add_argument("version", type=int)
    commands.add_parser("retire", help="promote no model: online scoring falls back to the rules")
    p = commands.add_parser(
        "features", help="features of every customer in a history file (JSON lines of events) at a moment"
    )
    p.add_argument("--history", required=True)
    p.add_argument("--at", required=True, type=datetime.fromisoformat)
    p.add_argument("--out", required=True)
    p.add_argument("--label-horizon-days", type=int, help="add column Exited: churned within this many days after --at")
    args = parser.parse_args(argv)

    from services.churn.model.dataset import DataError
    from services.churn.model.registry import RegistryError

    try:
        return _run(args)
    except (DataError, RegistryError) as error:
        print(f"crm churn {args.command}: {error}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from services.churn.model.dataset import Spec

    settings = ChurnSettings()
    registry = _registry()
    if args.command == "train":
        from services.churn.model.training import train

        outcome = train(args.data, Spec.load(args.spec), registry, force=args.force, progress=not args.no_progress)
        _print_report(outcome.report)
        print(outcome.decision)
        if args.report:
            with open(args.report, "w") as handle:
                json.dump(
                    {**outcome.report, "promoted": outcome.promoted, "decision": outcome.decision}, handle, indent=2
                )
        return 0
    if args.command == "score":
        from services.churn.model.registry import RegistryError
        from services.churn.model.scoring import score_file

        version = int(args.model) if args.model else registry.promoted()
        if version is None:
            raise RegistryError("No model is promoted; train one or pass --model VERSION")
        rows = score_file(
            registry.load(version),
            args.data,
            Spec.load(args.spec),
            args.out,
            medium=settings.band_medium,
            high=settings.band_high,
        )
        print(f"scored {rows} rows with model {version} into {args.out}")
        return 0
    if args.command == "models":
        promoted = registry.promoted()
        print(f"{'version':>7}  {'created':25} {'AUC':>7} {'PR-AUC':>7} {'Brier':>7} {'rows':>9}  data")
        for version in registry.versions():
            meta = registry.meta(version)
            m = meta["metrics"]
            mark = "*" if version == promoted else " "
            print(
                f"{version:>6}{mark}  {meta['created_at'][:25]:25} {_figure(m['auc']):>7} {_figure(m['pr_auc']):>7} "
                f"{_figure(m['brier']):>7} {meta['rows']['total']:>9}  {meta['data_file']} {meta['data_fingerprint'][:12]}"
            )
        print("* promoted" if promoted else "no model promoted: online scoring uses the rules")
        return 0
    if args.command == "rollback":
        print(f"model {registry.rollback(args.to)} is promoted")
        return 0
    if args.command == "retire":
        registry.promote(None, action="retire")
        print("no model is promoted: online scoring uses the rules")
        return 0
    if args.command == "promote":
        registry.promote(args.version, note="by hand")
        print(f"model {args.version} is promoted")
        return 0
    if args.command == "features":
        from services.churn.features.batch import write_features

        rows = write_features(args.history, args.at, args.out, label_horizon_days=args.label_horizon_days)
        print(f"features of {rows} customers at {args.at.isoformat()} in {args.out}")
        return 0
    return 2
