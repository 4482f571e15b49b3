"""The live page's script explains an acknowledgement that got no JSON back (an expired session answers with the
login page, a 403 page): its words come translated from the view, like every label of the script."""
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_page_ships_the_messages_for_a_reply_that_is_not_json(floor):
    client = Client()
    client.force_login(floor.supervisor)

    response = client.get("/alarms/", HTTP_ACCEPT_LANGUAGE="en")

    labels = response.context["labels"]
    assert "sign in again" in labels["sessionExpired"] and "reload the page" in labels["unexpectedReply"]
    assert b"sessionExpired" in response.content and b"unexpectedReply" in response.content
