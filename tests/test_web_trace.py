"""Trace pages: search by lot code or serial, the lot page with its SVG genealogy, scoping."""
import re

import pytest

from tests.factories_trace import add_serials, hold_lots, link_all, make_lots
from tests.web_support import signed_in, user_with_role


@pytest.fixture
def genealogy(site):
    lots = make_lots(site, "RESIN", "P1", "P2", "PACK")
    link_all(lots, [("RESIN", "P1"), ("RESIN", "P2"), ("P1", "PACK")], quantity=2.5, unit="kg")
    hold_lots(site, lots["PACK"], number="H-9")
    add_serials(lots["P1"], "SN-1", "SN-2")
    return lots


@pytest.fixture
def operator(site):
    return signed_in(user_with_role("operator", site))


def svg_nodes(html: str) -> dict[str, str]:
    """data-lot → the node's class attribute, from the page's SVG."""
    return {lot: classes for classes, lot in re.findall(r'<a href="[^"]*" class="([^"]*)" data-lot="([^"]+)"', html)}


def test_lot_page_draws_the_trace_as_svg(operator, genealogy):
    response = operator.get("/trace/lots/P1/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    nodes = svg_nodes(html)
    assert set(nodes) == {"RESIN", "P1", "PACK"}  # P2 is a sibling, not part of P1's trace
    assert "trace-node-current" in nodes["P1"]
    assert "trace-node-held" in nodes["PACK"] and "trace-node-held" not in nodes["RESIN"]
    assert html.count('class="trace-edge"') == 2 and ">2.5 kg</text>" in html


def test_backward_lots_are_drawn_left_of_forward_lots(operator, genealogy):
    html = operator.get("/trace/lots/P1/").content.decode()

    def x_of(code):
        return int(re.search(rf'data-lot="{code}">.*?<rect x="(\d+)"', html, re.S).group(1))

    assert x_of("RESIN") < x_of("P1") < x_of("PACK")


def test_direction_toggle_limits_the_drawing(operator, genealogy):
    html = operator.get("/trace/lots/P1/?direction=forward").content.decode()

    assert set(svg_nodes(html)) == {"P1", "PACK"}
    assert "format=csv&amp;direction=forward&amp;site=S1" in html


def test_lot_page_lists_runs_serials_and_holds(operator, genealogy):
    html = operator.get("/trace/lots/PACK/").content.decode()
    assert "H-9" in html and "barrel zone 2 drift" in html

    html = operator.get("/trace/lots/P1/").content.decode()
    assert "SN-1" in html and "SN-2" in html


def test_lot_of_another_site_is_404(operator, other_site):
    make_lots(other_site, "FOREIGN")

    assert operator.get("/trace/lots/FOREIGN/").status_code == 404


def test_search_by_lot_code_opens_the_lot(operator, genealogy):
    response = operator.get("/trace/", {"q": "P1"})

    assert response.status_code == 302 and response["Location"] == "/trace/lots/P1/?site=S1"


def test_search_by_serial_opens_its_lot(operator, genealogy):
    response = operator.get("/trace/", {"q": "SN-2"})

    assert response.status_code == 302 and response["Location"].startswith("/trace/lots/P1/")


def test_search_without_match_says_so(operator, genealogy):
    response = operator.get("/trace/", {"q": "NOTHING"})

    assert response.status_code == 200 and "NOTHING" in response.content.decode()


def test_trace_is_in_the_navigation(operator):
    assert 'href="/trace/"' in operator.get("/").content.decode()


def test_page_speaks_chinese(site, genealogy):
    client = signed_in(user_with_role("operator", site), language="zh-hans")

    response = client.get("/trace/lots/P1/")

    assert response.status_code == 200 and 'lang="zh-Hans"' in response.content.decode()
