"""Finding 7 of issue 11: a client verifies the coordinator's whole log before it
countersigns the head, and refuses a log that lost a head it signed before."""

from __future__ import annotations

from typing import cast

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.coordinator.helpers import FK, NODE_IDS, REGISTRY, approved_job
from tests.coordinator.test_result_post_http import coordinator  # noqa: F401 - fixture
from tyst.api.http import ApiError
from tyst.client.session import Client
from tyst.service.audit import Head, verify_signed_head


def test_countersigned_head_is_of_the_verified_log(coordinator: tuple[str, int]) -> None:  # noqa: F811
    url, _ = coordinator
    with httpx.Client(base_url=url, timeout=30) as http:
        approved_job(cast(TestClient, http))
        head = http.get("/audit/head").json()
    nodes = (NODE_IDS[0], NODE_IDS[1], NODE_IDS[2])
    with Client(FK, REGISTRY, url, nodes, ("https://127.0.0.1:1",) * 3) as client:
        signed = client.countersign_head()
        assert (signed.n_events, signed.hash) == (head["n_events"], head["hash"])
        assert verify_signed_head(REGISTRY, signed) == signed.head
        assert client.countersign_head(signed.head).n_events == signed.n_events
        with pytest.raises(ApiError, match="hash differs from the trusted head"):
            client.countersign_head(Head(signed.n_events, "0" * 64))
        with pytest.raises(ApiError, match="events removed from the end"):
            client.countersign_head(Head(signed.n_events + 5, signed.hash))
