import numpy as np

from services.churn.model import metrics


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shifted_one():
    rng = np.random.default_rng(1)
    reference = metrics.reference_bins(rng.beta(2, 5, 20_000))
    same, shifted = metrics.psi(reference, rng.beta(2, 5, 20_000)), metrics.psi(reference, rng.beta(5, 2, 20_000))
    assert same is not None and same < 0.01
    assert shifted is not None and shifted > 0.25
    assert metrics.psi(reference, np.array([])) is None


def test_lift_and_calibration_table():
    label = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 10)
    perfect = label.astype(float)
    assert metrics.lift_top_decile(label, perfect) == 5.0
    table = metrics.calibration_table(label, np.full(100, 0.2))
    assert table == [{"from": 0.2, "to": 0.3, "rows": 100, "predicted": 0.2, "observed": 0.2}]
