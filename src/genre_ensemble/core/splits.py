"""The names of the data splits, in one place (ground floor: imports nothing)."""

TRAIN, VALIDATION, CALIBRATION, TEST = "train", "val", "calib", "test"

# Every split manifest has clips in these.
SPLITS: tuple[str, ...] = (TRAIN, VALIDATION, TEST)
# What the members predict (never their training clips). Calibration clips are held out of
# training and early stopping alike, so learned ensemble weights fitted on them are unbiased.
PREDICTED: tuple[str, ...] = (VALIDATION, CALIBRATION, TEST)
