"""A pretrained member's data: one pooled embedding per clip, and the table its scikit-learn
classifier (:mod:`genre_ensemble.members.classifier`, as the descriptors member's) takes.

The stage ``embed@<member>`` and ``genre-ensemble predict`` both embed a pipeline-length
clip with :func:`embed_clip`, so a clip gets the same vector either way. Embeddings are stored
as an ``.npz`` archive (float32 kept bit for bit; a CSV would round them). When the member is
not in ``ensemble.members`` its stages write *placeholders* (an archive without clips, a
predictions table without rows, a model file holding ``None``) so that DVC finds its declared
outputs; `ensemble`, `evaluate` and predict take a table without rows or a ``None`` model for
no member. TensorFlow is imported only to embed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genre_ensemble.core.fileio import write_with
from genre_ensemble.core.paths import PRETRAINED_WEIGHTS_DIR
from genre_ensemble.core.tables import KEY_COLUMNS
from genre_ensemble.members.pretrained.kind import PretrainedParams

logger = logging.getLogger(__name__)

# Prefix of the embedding columns in the table handed to the classifier.
COLUMN_PREFIX = "embedding_"
# What identifies a clip's embedding: not its split, which `fit_embeddings` joins from the
# manifest, so embeddings survive a new split (a cross-validation's next fold).
EMBEDDING_KEYS: tuple[str, ...] = ("track", "genre")


@dataclass(frozen=True)
class ClipEmbeddings:
    """One pooled embedding per clip.

    Attributes
    ----------
    keys : pd.DataFrame
        One row per clip, columns ``track, genre`` (:data:`EMBEDDING_KEYS`).
    vectors : np.ndarray, shape (n_clips, embedding_size), float32
        ``embedding_size`` is the sum of the chosen layers' sizes (1706 for mean_pool,
        max_pool and penultimate); a placeholder has shape (0, 0).
    """

    keys: pd.DataFrame
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def placeholder_embeddings() -> ClipEmbeddings:
    """What the embeddings stage writes for a member not in ensemble.members: no clips."""
    return ClipEmbeddings(
        keys=pd.DataFrame({column: pd.Series(dtype=str) for column in EMBEDDING_KEYS}),
        vectors=np.zeros((0, 0), dtype=np.float32),
    )


def embed_clip(signal: np.ndarray, *, sample_rate: int, settings: PretrainedParams,
               weights_dir: str | Path = PRETRAINED_WEIGHTS_DIR) -> np.ndarray:
    """The member's vector for one pipeline-length clip.

    Parameters
    ----------
    signal : np.ndarray, shape (n_samples,)
        Mono clip at ``sample_rate``, already padded or trimmed to ``data.clip_seconds``.
    sample_rate : int
        Hz (``data.sample_rate``); the networks resample to 16 kHz.
    settings : PretrainedParams
        The member's checkpoint (``model``) and ``layers``.
    weights_dir : str or Path
        Folder holding the musicnn wheel (``make musicnn``).

    Returns
    -------
    np.ndarray, shape (embedding_size,), float32
        Each layer's outputs averaged over the clip's 3 s patches, concatenated in
        ``settings.layers`` order.
    """
    from genre_ensemble.members.pretrained.networks import clip_embedding  # TensorFlow: when used

    return clip_embedding(signal, sample_rate, model=settings.model, layers=settings.layers,
                          weights_dir=weights_dir)


def write_embeddings(path: str | Path, embeddings: ClipEmbeddings) -> None:
    """Store embeddings atomically as an uncompressed ``.npz`` (no pickled objects)."""
    arrays = {column: embeddings.keys[column].to_numpy(dtype=str) for column in EMBEDDING_KEYS}

    def save(temp: Path) -> None:
        with temp.open("wb") as handle:  # a handle: np.savez would append .npz to a name
            np.savez(handle, vectors=embeddings.vectors, **arrays)

    write_with(path, save)


def read_embeddings(path: str | Path) -> ClipEmbeddings:
    """Read what :func:`write_embeddings` stored."""
    with np.load(path, allow_pickle=False) as archive:
        keys = pd.DataFrame({column: archive[column].astype(str) for column in EMBEDDING_KEYS})
        return ClipEmbeddings(keys=keys, vectors=archive["vectors"])


def embedding_matrix(vectors: np.ndarray) -> np.ndarray:
    """The classifier's input: embeddings as float64 rows ``(n_clips, embedding_size)``.

    One conversion for the stage and predict, so both give the classifier the same numbers.
    """
    return np.atleast_2d(np.asarray(vectors, dtype=np.float64))


def classifier_table(embeddings: ClipEmbeddings, manifest: pd.DataFrame) -> pd.DataFrame:
    """Keys (the manifest's split joined by track) and embedding columns, the layout the
    feature member's ``fit_predict`` takes. Clips without a split are left out, as are clips
    `embed` could not decode (it logged why; `features` leaves them out too)."""
    matrix = embedding_matrix(embeddings.vectors)
    columns = [f"{COLUMN_PREFIX}{i}" for i in range(matrix.shape[1])]
    values = pd.DataFrame(matrix, columns=columns)
    table = pd.concat([embeddings.keys.reset_index(drop=True), values], axis=1)
    splits = manifest.loc[manifest["split"] != "", ["track", "split"]]
    table = table.merge(splits, on="track", how="inner")
    return table[[*KEY_COLUMNS, *columns]]
