"""A model trained on event-fed features (batch, from generated histories), for the churn tests."""

from datetime import UTC, datetime

import pytest
import yaml

from services.churn.features.batch import write_features
from services.churn.model.dataset import Spec
from services.churn.model.registry import Registry
from services.churn.model.training import train
from tests.churn_data import ONLINE_SPEC, histories

TRAINED_AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def online_model_dir(tmp_path_factory) -> str:
    """A registry with one promoted model over features the events yield."""
    folder = tmp_path_factory.mktemp("online-model")
    history = folder / "history.jsonl"
    with open(history, "w") as handle:
        for envelope in histories(1500, TRAINED_AT):
            handle.write(envelope.model_dump_json() + "\n")
    write_features(history, TRAINED_AT, folder / "features.csv", label_horizon_days=90)
    (folder / "spec.yaml").write_text(yaml.safe_dump(ONLINE_SPEC))
    registry = Registry(folder / "models")
    outcome = train(folder / "features.csv", Spec.load(folder / "spec.yaml"), registry, progress=False)
    assert outcome.promoted
    return str(registry.directory)


@pytest.fixture(scope="session")
def rules_only_dir(tmp_path_factory) -> str:
    """A registry with no model promoted, so churn scores by its rules (rules-v1). One folder for
    the session: the tests that start churn on it share one built app."""
    return str(tmp_path_factory.mktemp("no-models"))
