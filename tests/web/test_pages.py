"""Dashboard pages: figures match the data, search and sort, profile timeline, imports with quarantine, settings."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pandas as pd
from fastapi.testclient import TestClient

from heedful.services import accounts
from heedful.services.accounts import Role
from heedful.store import Store

from .conftest import csrf_of


def _text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, testid
    return match.group(1)


def test_overview_counts_purchases_with_returns_apart_and_customers(
    clients: dict[Role, TestClient], web_store: Store
) -> None:
    html = clients[Role.viewer].get("/").text
    orders = web_store.query("SELECT amount, is_return FROM orders")
    net = orders.loc[~orders["is_return"], "amount"].sum()
    assert _text_of(html, "kpi-revenue") == f"{net:,.0f}"
    assert _text_of(html, "kpi-customers") == str(web_store.count("customers"))
    purchases, returns = web_store.fetchall(
        "SELECT COUNT(DISTINCT CASE WHEN NOT is_return THEN order_id END), "
        "COUNT(DISTINCT CASE WHEN is_return THEN order_id END) FROM orders"
    )[0]
    assert _text_of(html, "kpi-orders") == f"{purchases:,}"  # a return is no order
    assert returns and _text_of(html, "kpi-returns") == f"and {returns:,} returns or cancellations"
    assert "Top themes" in html and "Delivery speed" in html and "delivery_speed" not in html  # labels, not ids


def test_overview_chart_csv_has_one_row_per_month(clients: dict[Role, TestClient], web_store: Store) -> None:
    response = clients[Role.viewer].get("/overview/chart/revenue.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    months = web_store.fetchall("SELECT COUNT(DISTINCT strftime(ordered_at, '%Y-%m')) FROM orders")[0][0]
    assert len(rows) == months
    assert (
        sum(float(r["revenue"]) for r in rows)
        == web_store.fetchall("SELECT SUM(amount) FROM orders WHERE NOT is_return")[0][0]
    )
    assert clients[Role.viewer].get("/overview/chart/nope.csv").status_code == 404


def test_customer_list_searches_and_sorts(clients: dict[Role, TestClient]) -> None:
    client = clients[Role.viewer]
    by_clv = client.get("/customers", params={"sort": "clv", "order": "desc"}).text
    assert by_clv.index("Alan Turing") < by_clv.index("Grace Hopper") < by_clv.index("Ada Lovelace")
    by_clv_asc = client.get("/customers", params={"sort": "clv", "order": "asc"}).text
    assert by_clv_asc.index("Ada Lovelace") < by_clv_asc.index("Alan Turing")
    found = client.get("/customers", params={"q": "grace"}).text
    assert "Grace Hopper" in found and "Ada Lovelace" not in found
    segment = client.get("/customers", params={"segment": "champions"}).text
    assert "Alan Turing" in segment and "Grace Hopper" not in segment
    assert client.get("/customers", params={"sort": "password_hash"}).status_code == 422


def test_htmx_search_returns_only_the_results_fragment(clients: dict[Role, TestClient]) -> None:
    response = clients[Role.viewer].get(
        "/customers", params={"q": "ada"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "Ada Lovelace" in response.text
    assert "<html" not in response.text


def test_profile_timeline_lists_orders_and_feedback_newest_first(clients: dict[Role, TestClient]) -> None:
    html = clients[Role.viewer].get("/customers/C1").text
    assert "Ada Lovelace" in html
    assert "Delivery was late again" in html
    assert "(return)" in html
    assert "built-in method" not in html
    assert "Order O1-0 · 1 line · 1 item — 10.00" in " ".join(re.sub(r"<[^>]+>", " ", html).split())
    whens = re.findall(r'<span class="when">([^<]+)</span>', html)
    assert whens == sorted(whens, reverse=True) and len(whens) >= 3
    assert clients[Role.viewer].get("/customers/NOPE").status_code == 404


def test_upload_with_a_bad_row_quarantines_it_and_the_fix_imports(
    clients: dict[Role, TestClient], web_store: Store
) -> None:
    analyst = clients[Role.analyst]
    data = b"order_id,customer_id,order_date,quantity,price\nU1,C3,2024-03-01,2,4.5\nU2,C3,31/31/2024,1,2\n"
    response = analyst.post(
        "/imports",
        files={"file": ("shop.csv", data, "text/csv")},
        data={"entity": "orders", "preset": "generic", "csrf_token": csrf_of(analyst, "/imports")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = analyst.get(response.headers["location"]).text
    assert (_text_of(page, "accepted"), _text_of(page, "rejected")) == ("1", "1")
    assert "U2" in page and "shop.csv" in page
    fixed = re.search(r'<textarea id="fixed" name="fixed"[^>]*>([^<]*)</textarea>', page)
    assert fixed and "31/31/2024" in fixed.group(1)
    import_id = response.headers["location"].rsplit("/", 1)[1]
    download = analyst.get(f"/imports/{import_id}/quarantine.csv").text
    assert download.splitlines()[1].startswith("U2,C3,31/31/2024")
    corrected = fixed.group(1).replace("31/31/2024", "2024-03-02")
    again = analyst.post(
        f"/imports/{import_id}/reimport",
        data={"fixed": corrected, "csrf_token": csrf_of(analyst, "/imports")},
        follow_redirects=False,
    )
    assert again.status_code == 303
    second = analyst.get(again.headers["location"]).text
    assert (_text_of(second, "accepted"), _text_of(second, "rejected")) == ("1", "0")
    assert web_store.fetchall("SELECT COUNT(*) FROM orders WHERE order_id = 'U2'")[0][0] == 1
    audit = [a for a in accounts.recent_audit(web_store) if a["action"] == "import.upload"]
    assert audit and audit[0]["actor"] == "analyst@example.com"


def test_viewer_sees_no_upload_form_and_cannot_post_one(clients: dict[Role, TestClient]) -> None:
    viewer = clients[Role.viewer]
    page = viewer.get("/imports").text
    assert 'action="/imports"' not in page and "analyst role" in page
    response = viewer.post(
        "/imports",
        files={"file": ("x.csv", b"order_id\n1\n", "text/csv")},
        data={"entity": "orders", "csrf_token": csrf_of(viewer, "/imports")},
    )
    assert response.status_code == 403


def test_value_page_shows_segments_and_cohort_heatmap(clients: dict[Role, TestClient]) -> None:
    html = clients[Role.viewer].get("/value").text
    assert "champions" in html and "Cohort retention" in html
    assert 'action="/value/fit"' not in html  # viewers get no analyst buttons
    cohorts = clients[Role.viewer].get("/value/chart/cohorts.csv").text.splitlines()
    assert cohorts[0].startswith("cohort,0")


def test_analyst_fits_a_model_and_sees_holdout_tracking(clients: dict[Role, TestClient], web_store: Store) -> None:
    analyst = clients[Role.analyst]
    response = analyst.post(
        "/value/fit",
        data={"model": "bgnbd", "calibration_end": "2024-03-01", "csrf_token": csrf_of(analyst, "/value")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    html = analyst.get("/value").text
    assert "Model fit and holdout" in html and "Parameter estimates" in html
    actual = web_store.fetchall(
        "SELECT COUNT(*) FROM (SELECT DISTINCT customer_id, CAST(ordered_at AS DATE) FROM orders "
        "WHERE ordered_at >= TIMESTAMP '2024-03-02' AND NOT is_return AND customer_id IN "
        "(SELECT customer_id FROM orders WHERE ordered_at < TIMESTAMP '2024-03-02' AND NOT is_return))"
    )[0][0]
    assert _text_of(html, "holdout-actual") == str(actual)


def test_admin_adds_a_user_and_the_audit_log_records_it(clients: dict[Role, TestClient], web_store: Store) -> None:
    admin = clients[Role.admin]
    page = admin.post(
        "/settings/users",
        data={"email": "New.Person@Example.com", "role": "analyst", "csrf_token": csrf_of(admin, "/settings")},
    ).text
    password = _text_of(page, "new-password")
    assert len(password) >= 10
    user = accounts.authenticate(web_store, "new.person@example.com", password)
    assert user is not None and user.role == Role.analyst
    assert "user.create" in admin.get("/settings").text


def test_the_last_admin_cannot_be_demoted(clients: dict[Role, TestClient], web_store: Store) -> None:
    admin = clients[Role.admin]
    me = accounts.find_user(web_store, "admin@example.com")
    assert me is not None
    response = admin.post(
        f"/settings/users/{me.user_id}", data={"role": "viewer", "csrf_token": csrf_of(admin, "/settings")}
    )
    assert response.status_code == 400
    assert accounts.get_user(web_store, me.user_id).role == Role.admin


def test_settings_manage_departments_and_stages(clients: dict[Role, TestClient], web_store: Store) -> None:
    admin = clients[Role.admin]
    token = csrf_of(admin, "/settings")
    admin.post("/settings/stages", data={"name": "First purchase", "position": 2, "csrf_token": token})
    assert web_store.fetchall("SELECT name, position FROM journey_stages WHERE stage_id = 'first_purchase'") == [
        ("First purchase", 2)
    ]
    admin.post("/settings/stages/first_purchase/delete", data={"csrf_token": token})
    assert web_store.fetchall("SELECT COUNT(*) FROM journey_stages WHERE stage_id = 'first_purchase'")[0][0] == 0
    admin.post(
        "/settings/departments", data={"name": "Customer Support", "email": "help@example.com", "csrf_token": token}
    )
    assert "customer_support" in admin.get("/settings").text
    actions = {a["action"] for a in accounts.recent_audit(web_store)}
    assert {"stage.save", "stage.delete", "department.save"} <= actions


def test_pages_are_usable_on_a_phone_and_by_keyboard(clients: dict[Role, TestClient]) -> None:
    for path in ("/", "/customers", "/value", "/imports", "/settings", "/account", "/customers/C1"):
        html = clients[Role.admin].get(path).text
        assert 'name="viewport"' in html, path
        assert 'class="skip-link" href="#main"' in html and 'id="main"' in html, path
        # every form control has a label
        for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
            assert f'for="{control_id}"' in html, (path, control_id)


def test_overview_marks_the_partial_last_month_and_names_the_last_complete_one(
    clients: dict[Role, TestClient], web_store: Store
) -> None:
    # The seeded data ends on 29 June 2024: June is partial (issue 17) and must not read as a month like May.
    html = clients[Role.viewer].get("/").text
    figures = {
        name: json.loads(unescape(fig)) for name, fig in re.findall(r'data-name="([^"]+)" data-figure="([^"]*)"', html)
    }
    months = figures["revenue"]["layout"]["xaxis"]["categoryarray"]
    assert months[-1] == "Jun 2024<br>(partial, 29 days)"  # the charts' label of the partial month
    assert figures["revenue"]["data"][0]["x"] == months  # in calendar order, on every month chart
    assert figures["theme_trend"]["layout"]["xaxis"]["categoryarray"] == months
    assert [t["marker"]["symbol"][-1] for t in figures["theme_trend"]["data"]] == ["circle-open"] * 2
    assert _text_of(html, "partial-period").startswith("2024-06 is partial")
    assert "2024-05" in _text_of(html, "partial-period")
    rows = list(csv.DictReader(io.StringIO(clients[Role.viewer].get("/overview/chart/revenue.csv").text)))
    assert [r["month"] for r in rows if r["partial"] == "True"] == ["2024-06"]


def test_journey_metrics_table_says_not_enough_data_in_words() -> None:
    from heedful.web.templating import templates

    macro = templates.env.get_template("_journey.html").module.metrics_table  # type: ignore[attr-defined]
    metric = {
        "label": "Positive feedback",
        "kind": "feedback_positive_share",
        "value": 1.0,
        "low": 0.207,
        "high": 1.0,
        "target": 0.5,
        "direction": "higher",
        "status": "not_enough_data",
        "status_text": "not enough data (n = 1)",
        "trend": "unknown",
        "change": None,
        "n": 1,
    }
    html = str(macro({"label": "It works", "department_name": "Product", "stage_name": "Use", "metrics": [metric]}))
    assert "not enough data (n = 1)" in html and ">met<" not in html
    # the figures as the CLI and the report show them (`journey.metrics.metric_text`)
    assert ">100%<" in html and "20.7% – 100%" in html and "≥ 50%" in html


def test_churn_risk_names_the_days_it_looks_ahead(clients: dict[Role, TestClient], web_store: Store) -> None:
    web_store.execute("DELETE FROM churn_scores")
    assert "Churn risk (" not in clients[Role.viewer].get("/customers").text  # nothing scored says how far
    web_store.insert_new(
        "churn_scores",
        pd.DataFrame(
            [
                {
                    "customer_id": "C1",
                    "churn_risk": 0.4,
                    "horizon_days": 30,
                    "model_version": "test",
                    "scored_at": pd.Timestamp("2024-06-30"),
                }
            ]
        ),
    )
    try:
        viewer = clients[Role.viewer]
        assert "Churn risk (30 days)" in viewer.get("/customers").text
        assert "Churn risk (30 days)" in viewer.get("/customers/C1").text
        assert "Churn risk (30 days)" in clients[Role.viewer].get("/retain").text
    finally:
        web_store.execute("DELETE FROM churn_scores")
