"""Which stored samples owe something to forgotten rows: only a cold refit makes them independent."""

from pathlib import Path

from _core_models import fitted_binary_model

from bayes_unlearn import load


def test_only_a_cold_refit_makes_samples_independent_of_forgotten_rows(tmp_path: Path):
    model = fitted_binary_model()
    assert model.info()["samples_independent_of_forgotten_rows"] is True  # nothing forgotten yet

    model.forget([3], method="reweight")
    assert model.samples_independent_of_forgotten_rows_ is False

    model.compact(method="smc")  # particles resampled from draws that saw row 3, then moved
    info = model.info()
    assert info["samples_saw_forgotten_rows"] is False
    assert info["samples_independent_of_forgotten_rows"] is False

    # compact(refit) is not a no-op here: SMC's samples still descend from row 3's fit
    strict = model.compact(method="refit")
    assert strict.method == "refit" and strict.n_forgotten == 0
    assert model.samples_independent_of_forgotten_rows_ is True
    assert model.compact(method="refit").method == "none"  # now there is nothing left to do

    model.forget([7], method="refit")  # a warm refit starts its chains from the current samples
    assert model.samples_independent_of_forgotten_rows_ is False

    model.save(tmp_path / "m")
    assert load(tmp_path / "m").samples_independent_of_forgotten_rows_ is False
