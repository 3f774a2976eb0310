from __future__ import annotations

import numpy as np
import pytest

from genre_ensemble.corpus.windows import frame_slices, window_starts


def test_whole_clip_is_one_window():
    assert window_starts(30.0, 0.0, 0.0).tolist() == [0.0]
    assert frame_slices(
        100, sr=22050, hop_length=512, clip_seconds=30, window_seconds=0, overlap=0
    ) == [slice(0, 100)]


def test_overlapping_windows_fit_in_the_clip():
    starts = window_starts(10.0, 3.0, 0.5)
    np.testing.assert_allclose(starts, [0.0, 1.5, 3.0, 4.5, 6.0])
    assert starts[-1] + 3.0 <= 10.0


def test_slices_have_equal_width_and_stay_inside():
    slices = frame_slices(
        431, sr=22050, hop_length=512, clip_seconds=10.0, window_seconds=3.0, overlap=0.25
    )
    widths = {s.stop - s.start for s in slices}
    assert widths == {round(3.0 * 22050 / 512)}
    assert all(s.start >= 0 and s.stop <= 431 for s in slices)


@pytest.mark.parametrize(("window", "overlap"), [(12.0, 0.0), (3.0, 1.0), (3.0, -0.1)])
def test_bad_windows_raise(window, overlap):
    with pytest.raises(ValueError):
        window_starts(10.0, window, overlap)
