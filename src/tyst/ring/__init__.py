"""Ring arithmetic over Z_2^64 and Z_2 (bit-packed), fixed point, and the AES-CTR PRG.

Imports nothing else from tyst.
"""
