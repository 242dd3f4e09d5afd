"""TrainingRows: deferred removal must give the same rows, ids and lookups as cutting eagerly."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_unlearn.rows import TrainingRows


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 30), data=st.data())
def test_removals_match_a_plain_list_model(n, data):
    ids = [f"r{i}" for i in range(n)]
    frame = pd.DataFrame({"a": np.arange(n) * 1.5, "b": [f"s{i}" for i in range(n)]})
    rows = TrainingRows(frame, pd.Series(np.arange(n) % 2, name="y"), ids)
    held = list(range(n))
    for _ in range(data.draw(st.integers(1, 4))):
        if len(held) < 2:
            break
        drop = data.draw(st.lists(st.sampled_from(held), min_size=1, max_size=len(held) - 1, unique=True))
        request = [ids[i] for i in drop] + ["unknown"]
        positions, missing = rows.locate(request)
        np.testing.assert_array_equal(positions, [held.index(i) for i in drop])
        assert missing == ["unknown"]
        rows.remove(positions)
        held = [i for i in held if i not in drop]
        assert list(rows.ids) == [ids[i] for i in held]
        assert rows.features["a"].tolist() == [i * 1.5 for i in held]
        assert rows.target.tolist() == [i % 2 for i in held] and rows.target.name == "y"
        assert list(rows.features.index) == list(range(len(held)))
        # an id removed earlier is no longer found
        assert rows.locate([ids[drop[0]]])[1] == [ids[drop[0]]]
