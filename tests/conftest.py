import numpy as np
import pandas as pd
import pytest

from bayes_unlearn.data import PIMA_ZERO_MISSING, find_shared_data


def _shared(name: str):
    path = find_shared_data(name)
    if path is None:
        pytest.skip(f"{name} not found: set BAYES_UNLEARN_DATA_DIR or place it in ../shared/data")
    return path


@pytest.fixture(scope="session")
def pima_path():
    return _shared("pima-indians-diabetes.csv")


@pytest.fixture(scope="session")
def spambase_path():
    return _shared("spambase.csv")


@pytest.fixture(scope="session")
def pima_frame(pima_path):
    return pd.read_csv(pima_path)


@pytest.fixture(scope="session")
def pima_zero_columns():
    return list(PIMA_ZERO_MISSING)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
