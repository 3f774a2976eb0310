"""The corpus: decoding audio, finding a corpus's clips and labels, checking and splitting
them, fingerprints and the duplicate audit, windows; :mod:`.synthetic` generates the embedded
default corpus."""
