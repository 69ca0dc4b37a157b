"""The Listening page, its CSV downloads and /api/v1/listen/themes over the seeded store."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from heedful.services.accounts import Role


def test_viewer_sees_themes_and_the_negative_quote_first(clients: dict[Role, TestClient]) -> None:
    page = clients[Role.viewer].get("/listen")
    assert page.status_code == 200
    html = page.text
    assert "Delivery speed" in html and "Product quality" in html
    assert 'data-testid="listen-items">2<' in html
    # the latest month is named, and said to be partial: the feedback ends on 25 June 2024
    assert "What changed in Jun 2024 (partial, 25 days)" in html
    # each theme's bar splits its mentions three ways, in words (was "negative" and "other")
    assert "neutral (named, no opinion)" in html and '"positive"' in html and '"other"' not in html
    quotes = html[html.index('data-testid="listen-quotes"') :]
    assert "Delivery was late again" in quotes
    assert "Lovely product" not in quotes  # positive items only when asked for
    positive = clients[Role.viewer].get("/listen", params={"sentiment": "positive", "theme": "product_quality"}).text
    assert "Lovely product, fast delivery" in positive[positive.index('data-testid="listen-quotes"') :]


def test_theme_table_downloads_and_api_agree(clients: dict[Role, TestClient]) -> None:
    client = clients[Role.viewer]
    csv = client.get("/listen/themes.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, *rows = csv.text.strip().splitlines()
    assert header.startswith("theme,label,department,journey_stage,mentions,share,negative_mentions")
    body = client.get("/api/v1/listen/themes").json()
    assert body["items"] == 2 and body["period"] == "M"
    by_theme = {t["theme"]: t for t in body["themes"]}
    assert len(rows) == len(by_theme) == 2
    assert by_theme["delivery_speed"]["mentions"] == 2
    assert by_theme["delivery_speed"]["negative_mentions"] == 1
    assert by_theme["product_quality"]["positive_mentions"] == 1
    assert by_theme["delivery_speed"]["department"] == "delivery"
    assert by_theme["product_quality"]["negative_share"] == 0
    assert client.get("/listen/chart/themes.csv").status_code == 200
    assert client.get("/listen/chart/nope.csv").status_code == 404
    assert client.get("/listen", params={"period": "Z"}).status_code == 422


def test_anonymous_users_get_nothing(app: FastAPI) -> None:
    with TestClient(app, base_url="http://testserver") as anonymous:
        page = anonymous.get("/listen", follow_redirects=False)
        assert page.status_code == 303 and "Delivery" not in page.text
        assert anonymous.get("/api/v1/listen/themes").status_code == 401
        assert anonymous.get("/listen/themes.csv", follow_redirects=False).status_code == 303
