"""Compile-time planning: everything decided from the signed plan alone, before any data moves.

Join strategies and inherited uniqueness (:mod:`tyst.planner.planning`), the lanes each scan
carries (:mod:`tyst.planner.pruning`) and what owners, nodes and recipients all derive from a
plan (:mod:`tyst.planner.jobspec`). Pure code over the IR and the operator registry: it never
touches shares, so the owners' and recipients' clients import it instead of the engine."""
