"""Helpers shared by the web UI tests (tests/test_web_*.py and tests/browser/)."""
from __future__ import annotations

from django.test import Client

from qms.services.ingest import ingest_measurements
from tests.factories import UserFactory


def signed_in(user, language: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()
    client.force_login(user)
    return client


def user_with_role(role: str, *sites, username: str | None = None):
    return UserFactory(username=username or f"{role}-{'-'.join(s.code for s in sites) or 'nosite'}", role=role,
                       sites=list(sites))


def reject_items(site, items: list[dict], source: str = "token:MES-1") -> list[int]:
    """Send items through the real ingestion so the rejected ones become dead letters; return their ids."""
    from qms.models import DeadLetter

    before = set(DeadLetter.objects.filter(site=site).values_list("pk", flat=True))
    ingest_measurements(site=site, items=items, source=source)
    return sorted(set(DeadLetter.objects.filter(site=site).values_list("pk", flat=True)) - before)
