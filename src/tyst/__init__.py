"""tyst — secure three-party computation for public administration.

See ``docs/architecture.md`` for the module map in dependency order.
"""

__version__ = "0.1.0"
