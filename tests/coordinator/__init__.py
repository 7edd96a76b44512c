"""Tests of the coordinator (tyst.coordinator): API, state machine, audit log, storage."""
