"""The ensemble's members: the interface (:mod:`.base`), the registry of kinds
(:mod:`.registry`, :mod:`.predictors`), the scikit-learn head some kinds share
(:mod:`.classifier`), and one subpackage per kind: :mod:`.cnn` (networks trained from scratch
on images of the audio), :mod:`.descriptors` (hand-made descriptors), :mod:`.pretrained`
(embeddings of pretrained networks)."""
