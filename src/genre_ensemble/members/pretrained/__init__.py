"""The pretrained members: clip embeddings of the musicnn wheel's networks and a scikit-learn
classifier on them (:mod:`.kind` describes the kind)."""
