"""Static figures (PNG) of results. No TensorFlow here."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def confusion_png(counts: np.ndarray, *, labels: Sequence[str], title: str) -> bytes:
    """A confusion-matrix figure like the paper's figure 6, as PNG bytes.

    Parameters
    ----------
    counts : np.ndarray, shape (n_labels, n_labels)
        Rows are true labels, columns predicted labels, ``labels`` order.
    labels : sequence of str
    title : str

    Returns
    -------
    bytes
        PNG with genre labels on both axes, the count in every cell and a colour bar.
    """
    figure = Figure(figsize=(7.5, 6.5), dpi=100)
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, list(labels), rotation=45, ha="right")
    axes.set_yticks(ticks, list(labels))
    axes.set_xlabel("predicted genre")
    axes.set_ylabel("true genre")
    axes.set_title(title)
    threshold = counts.max() / 2 if counts.size and counts.max() else 0
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            value = int(counts[row, column])
            axes.text(
                column,
                row,
                str(value),
                ha="center",
                va="center",
                color="white" if value > threshold else "black",
                fontsize=9,
            )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
