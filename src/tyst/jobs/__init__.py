"""Whole jobs run on the three compute nodes: the engine benchmark and the demo.

A job has two halves: the *node program* (runs in each node process, sees only
that node's shares) and the *client side* (the data owner that splits inputs
into shares, and the recipient that combines the nodes' result shares). The
client side never hands one node more than that node's pair of shares.
"""
