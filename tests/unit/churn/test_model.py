"""Training from a file, scoring a file, the model registry: on generated bank-churn data with a
known signal (tests/churn_data.py), blanks and malformed values included."""

import json

import pandas as pd
import pytest
import yaml

from services.churn import cli
from services.churn.model.dataset import DataError, Spec, read_table
from services.churn.model.registry import Registry, RegistryError
from services.churn.model.training import train
from tests.churn_data import KAGGLE_SPEC, kaggle_like


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("churn")
    kaggle_like(6000).to_csv(folder / "train.csv", index=False)
    kaggle_like(800, seed=11, with_label=False).to_csv(folder / "score.csv", index=False)
    (folder / "spec.yaml").write_text(yaml.safe_dump(KAGGLE_SPEC))
    return folder


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    registry = Registry(tmp_path_factory.mktemp("models"))
    outcome = train(files / "train.csv", Spec.load(files / "spec.yaml"), registry, progress=False)
    return registry, outcome


def test_the_model_beats_logistic_regression_on_the_same_validation_rows(trained):
    _, outcome = trained
    model, baseline = outcome.report["metrics"], outcome.report["baseline_logistic_regression"]
    assert model["rows"] == baseline["rows"] == outcome.report["rows"]["validation"]
    assert model["auc"] > baseline["auc"] + 0.03
    assert model["pr_auc"] > baseline["pr_auc"]
    assert model["brier"] < baseline["brier"]
    assert model["lift_top_decile"] > 2
    # The two effects built into the data come first.
    assert {i["feature"] for i in outcome.report["importance"][:2]} == {"NumOfProducts", "Age"}
    assert sum(row["rows"] for row in model["calibration"]) == model["rows"]


def test_blanks_and_malformed_values_are_missing_not_errors(trained):
    _, outcome = trained
    report = outcome.report
    assert report["rows"]["blank_label_dropped"] > 0
    assert report["malformed_values"]["Age"] > 0 and report["malformed_values"]["HasCrCard"] > 0


def test_the_first_model_is_promoted_and_an_equal_one_is_not(trained, files):
    registry, outcome = trained
    assert outcome.promoted and registry.promoted() == outcome.version
    again = train(files / "train.csv", Spec.load(files / "spec.yaml"), registry, progress=False)
    assert not again.promoted and "does not beat" in again.decision
    assert again.report["compared_with_promoted"]["version"] == outcome.version
    assert registry.promoted() == outcome.version
    forced = train(files / "train.csv", Spec.load(files / "spec.yaml"), registry, progress=False, force=True)
    assert forced.promoted and registry.promoted() == forced.version
    assert registry.rollback() == outcome.version and registry.promoted() == outcome.version
    registry.promote(None, action="retire")
    assert registry.promoted() is None
    assert registry.rollback() == outcome.version and registry.promoted() == outcome.version
    meta = registry.meta(forced.version)
    assert meta["data_fingerprint"] == registry.meta(outcome.version)["data_fingerprint"]
    assert meta["spec"]["columns"] == KAGGLE_SPEC["columns"]


def test_cli_score_writes_every_row_without_the_label(trained, files, tmp_path, monkeypatch, capsys):
    registry, outcome = trained
    monkeypatch.setenv("CHURN_MODEL_DIR", str(registry.directory))
    out = tmp_path / "scores.csv"
    code = cli.main(
        [
            "score",
            "--data",
            str(files / "score.csv"),
            "--spec",
            str(files / "spec.yaml"),
            "--out",
            str(out),
            "--model",
            str(outcome.version),
        ]
    )
    assert code == 0, capsys.readouterr()
    scores = pd.read_csv(out)
    source = pd.read_csv(files / "score.csv")
    assert list(scores.columns) == ["id", "probability", "band"]
    assert scores["id"].tolist() == source["CustomerId"].tolist()
    assert scores["probability"].between(0, 1).all()
    assert set(scores["band"]) <= {"low", "medium", "high"}
    assert (scores["band"] == "high").equals(scores["probability"] >= 0.7)


def test_cli_models_lists_versions_and_marks_the_promoted_one(trained, monkeypatch, capsys):
    registry, _ = trained
    monkeypatch.setenv("CHURN_MODEL_DIR", str(registry.directory))
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    promoted = [line for line in lines[1:-1] if line.split()[0].endswith("*")]
    assert len(promoted) == 1 and promoted[0].split()[0] == f"{registry.promoted()}*"


def test_cli_train_writes_the_report(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHURN_MODEL_DIR", str(tmp_path / "models"))
    small = tmp_path / "small.csv"
    kaggle_like(1500, seed=5).to_csv(small, index=False)
    code = cli.main(
        [
            "train",
            "--data",
            str(small),
            "--spec",
            str(files / "spec.yaml"),
            "--report",
            str(tmp_path / "report.json"),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "AUC" in printed and "PR-AUC" in printed and "lift, top decile" in printed and "Brier" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["promoted"] is True and report["version"] == 1


def _spec(**changes):
    return Spec.from_dict({**KAGGLE_SPEC, **changes})


def test_a_file_without_a_spec_column_is_refused_naming_it(tmp_path):
    path = tmp_path / "data.csv"
    kaggle_like(50).drop(columns=["Tenure"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="'Tenure'.*line 1"):
        read_table(path, _spec(), with_label=True)


def test_a_ragged_row_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "data.csv"
    kaggle_like(50, dirty=False).to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[7] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 8"):
        read_table(path, _spec(), with_label=True)
    lines = path.read_text().splitlines()
    lines[7] = ",".join(lines[7].split(",")[:5])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 8"):
        read_table(path, _spec(), with_label=True)


def test_blank_or_repeated_ids_are_refused_naming_the_line(tmp_path):
    path = tmp_path / "data.csv"
    frame = kaggle_like(50, dirty=False)
    frame.loc[4, "CustomerId"] = frame.loc[2, "CustomerId"]
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="line 6 repeats"):
        read_table(path, _spec(), with_label=True)


def test_a_positive_label_other_than_1_and_a_spec_of_the_wrong_shape(tmp_path):
    path = tmp_path / "data.csv"
    frame = kaggle_like(200, dirty=False)
    frame["Exited"] = frame["Exited"].map({1: "Yes", 0: "No"})
    frame.to_csv(path, index=False)
    table = read_table(path, _spec(positive="Yes"), with_label=True)
    assert table.label is not None and table.label.sum() == (frame["Exited"] == "Yes").sum()
    with pytest.raises(DataError, match="numeric, categorical or boolean"):
        _spec(columns={"Age": "integer"})
    with pytest.raises(DataError, match="`id` is required"):
        Spec.from_dict({"columns": {"Age": "numeric"}})


def test_scoring_refuses_a_spec_that_lacks_a_model_column(trained, files):
    from services.churn.model.scoring import score_file

    registry, outcome = trained
    columns = {k: v for k, v in KAGGLE_SPEC["columns"].items() if k != "Age"}
    with pytest.raises(DataError, match="'Age'"):
        score_file(
            registry.load(outcome.version),
            files / "score.csv",
            _spec(columns=columns),
            files / "x.csv",
            medium=0.4,
            high=0.7,
        )


def test_a_model_file_with_a_type_outside_the_allow_list_is_refused(trained, tmp_path):
    from fractions import Fraction

    registry, outcome = trained
    copy = Registry(tmp_path)
    version = copy.save(Fraction(1, 3), registry.meta(outcome.version))
    with pytest.raises(RegistryError, match="fractions.Fraction"):
        copy.load(version)


def test_rollback_without_history_is_refused(tmp_path):
    with pytest.raises(RegistryError, match="nothing to roll back"):
        Registry(tmp_path).rollback()


def test_fast_paths_score_exactly_as_the_calibrated_classifier(trained, files):
    import numpy as np

    registry, outcome = trained
    model = registry.load(outcome.version)
    table = read_table(files / "train.csv", Spec.load(files / "spec.yaml"), with_label=True)
    matrix = model.encoder.transform(table.frame.iloc[:300])
    expected = model.classifier.predict_proba(matrix)[:, 1]
    probability, contributions = model.explain(matrix)
    np.testing.assert_allclose(model.probabilities(matrix), expected, atol=1e-9)
    np.testing.assert_allclose(probability, expected, atol=1e-9)
    assert contributions.shape == (300, len(KAGGLE_SPEC["columns"]))
    one = model.encoder.transform_one(table.frame.iloc[7].to_dict())
    np.testing.assert_allclose(one, matrix[7:8], equal_nan=True)


def test_with_a_time_column_validation_is_on_the_latest_rows(tmp_path):
    frame = kaggle_like(3000, seed=13, dirty=False)
    frame["SnapshotDate"] = pd.date_range("2025-01-01", periods=len(frame), freq="h").astype(str)
    frame = frame.sample(frac=1, random_state=1)  # file order is not time order
    frame.to_csv(tmp_path / "data.csv", index=False)
    outcome = train(tmp_path / "data.csv", _spec(time="SnapshotDate"), Registry(tmp_path / "m"), progress=False)
    report = outcome.report
    assert report["validation"].startswith("time-based")
    assert report["training_until"] < report["validation_from"]
    assert report["metrics"]["rows"] == 600


def test_the_crm_command_hands_churn_to_its_own_parser(tmp_path, monkeypatch, capsys):
    from services import cli as crm

    monkeypatch.setenv("CHURN_MODEL_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        crm.main(["churn", "models"])
    assert exit_.value.code == 0 and "no model promoted" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        crm.main(["churn", "rollback"])
    assert exit_.value.code == 2 and "nothing to roll back" in capsys.readouterr().err
