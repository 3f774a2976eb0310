"""genre-ensemble: music genre classification with an ensemble of CNNs on STFT, CQT and chroma
images, reproducing and improving on a published method, orchestrated by DVC.

The package root imports nothing heavy: the ensemble and evaluation stages must never load
TensorFlow (only the CNN members' :mod:`~genre_ensemble.members.cnn.training` and the
pretrained networks do).
"""

__version__ = "0.1.0"
