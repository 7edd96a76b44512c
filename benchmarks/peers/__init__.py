"""Peer benchmarks: MPyC and SecretFlow SPU (ABY3) on tyst's engine operations.

Runs in its own virtualenv (``.venv-peers``), never imports ``tyst``; see README.md.
"""
