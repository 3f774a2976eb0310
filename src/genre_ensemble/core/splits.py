"""The names of the data splits, in one place (ground floor: imports nothing)."""

TRAIN, VALIDATION, CALIBRATION, TEST = "train", "val", "calib", "test"

# Every split manifest has clips in these.
SPLITS: tuple[str, ...] = (TRAIN, VALIDATION, TEST)
# What the members predict (never their training clips). Calibration clips are held out of
# training and early stopping alike, so learned ensemble weights fitted on them are unbiased.
PREDICTED: tuple[str, ...] = (VALIDATION, CALIBRATION, TEST)
# What a cross-fitted classifier member (params cross_fit > 0) is fitted on, and predicts out
# of fold: its train rows join its predictions so `ensemble.method: selected` can choose on them.
CROSS_FITTED: tuple[str, ...] = (TRAIN, VALIDATION)



def predicted_splits(*, cross_fitted: bool) -> tuple[str, ...]:
    """The rows of a member's table that go into its predictions table: val, calib and test,
    and the out-of-fold train rows of a cross-fitted member."""
    return (*PREDICTED, TRAIN) if cross_fitted else PREDICTED
