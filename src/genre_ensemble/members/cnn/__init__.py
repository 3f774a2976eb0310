"""The CNN members: representations, window images and their store, networks, training and
TensorFlow's runtime settings (:mod:`.kind` describes the kind)."""
