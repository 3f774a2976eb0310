"""Deterministic synthetic stand-in for GTZAN: ten genres rendered from declarative specs.

Public API: :func:`synthesize_clip`, :func:`clip_seed`, :func:`write_corpus`; :func:`plan_clip`
exposes the random choices behind a clip (key, tempo, borrowed elements) for tests and
debugging.
"""

from .corpus import clip_path, clip_seed, write_corpus
from .render import ClipPlan, plan_clip, synthesize_clip
from .specs import SPECS, GenreSpec

__all__ = [
    "SPECS",
    "ClipPlan",
    "GenreSpec",
    "clip_path",
    "clip_seed",
    "plan_clip",
    "synthesize_clip",
    "write_corpus",
]
