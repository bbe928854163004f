"""Fixtures of the observability tests: scraping ``/metrics`` through the real app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(exposition: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


class Scraper:
    """Reads ``/metrics``; the registry is process-wide, so tests assert on deltas."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.before: Samples = {}

    async def scrape(self) -> Samples:
        response = await self.http.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return parse(response.text)

    async def mark(self) -> None:
        self.before = await self.scrape()

    @staticmethod
    def value(samples: Samples, name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    async def delta(self, name: str, **labels: str) -> float:
        now = await self.scrape()
        return self.value(now, name, **labels) - self.value(self.before, name, **labels)


@pytest.fixture
async def scraper(client: httpx.AsyncClient) -> Any:
    s = Scraper(client)
    await s.mark()
    return s
