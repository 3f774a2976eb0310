"""The names of the ensemble's members: one CNN per image representation, plus the
feature-based member. The one place to add a member's name; imports nothing."""

REPRESENTATIONS: tuple[str, ...] = ("stft", "cqt", "chroma")
FEATURE_MEMBER = "features"
MEMBERS: tuple[str, ...] = (*REPRESENTATIONS, FEATURE_MEMBER)
