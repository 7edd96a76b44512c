"""Column types, their encoding into ring words, and the owners' data files.

This package is client-side and pure Python/numpy: it never sees shares.
"""
