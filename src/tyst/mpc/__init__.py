"""Three-party replicated secret sharing (RSS): shares, correlated randomness, protocols.

Party ``i`` holds the pair ``(x_i, x_{i+1})`` of the additive (or XOR) sharing
``x = x_0 + x_1 + x_2``; any two parties together can open ``x``, no single
party learns anything. This package sees the network only through
``tyst.net.transport.Transport``.
"""
