"""The ground floor: params, paths, labels, split names, errors, atomic I/O, parallel work.

Imports nothing of the package outside ``core``. Like every subpackage here except
:mod:`genre_ensemble.inference`, this ``__init__`` imports nothing: a DVC stage depends on
exactly the modules it imports, so a package must not pull in modules its users do not run.
"""
