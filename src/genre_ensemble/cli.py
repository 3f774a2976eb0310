"""The ``genre-ensemble`` command: ``predict`` songs, ``report`` runs, run a ``sweep`` of named
variants, ``compare`` sweeps, ``serve`` the ensemble over HTTP.

Each sub-command lives in its own module, imported only when used, so ``genre-ensemble report``
never pays for TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# sub-command -> module with configure_parser(parser) and run(args) -> int (exit status)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("genre_ensemble.inference.predict",
                "classify audio files with the trained ensemble"),
    "report": ("genre_ensemble.report", "write reports/index.html, an offline report of runs"),
    "sweep": ("genre_ensemble.experiments.sweeps",
              "run named variants as DVC experiments, once or over k folds"),
    "compare": ("genre_ensemble.experiments.compare",
                "cross-validation sweeps side by side, paired tests"),
    "serve": ("genre_ensemble.service.command",
              "serve the trained ensemble over HTTP (page, /classify)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genre-ensemble", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).configure_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
