"""The descriptors member: hand-made audio descriptors per window and a scikit-learn
classifier (:mod:`.kind` describes the kind)."""
