"""The canonical schema: every table heedful stores, with its columns and what they mean.

The schema is data, not DDL strings, so the same definition creates tables on DuckDB and
PostgreSQL and writes `docs/data-model.md`. Later changes are migrations (`store/migrations.py`).
"""

from __future__ import annotations

from heedful.store.schema_invites import INVITE_TABLES
from heedful.store.schema_jobs import JOB_TABLES
from heedful.store.schema_loop import LOOP_TABLES
from heedful.store.schema_notify import NOTIFY_TABLES
from heedful.store.tables import SQL_TYPES as SQL_TYPES  # re-exported with the tables they type
from heedful.store.tables import Table, provenance
from heedful.store.tables import column as C

CUSTOMER_KINDS = ("customer", "prospect", "staff", "partner")

CUSTOMERS = Table(
    "customers",
    "People and organisations heedful knows: customers, prospects, staff and partners.",
    (
        C("customer_id", "text", "stable id, from the source system where it has one", False),
        C("kind", "text", "customer | prospect | staff | partner", False),
        C("name", "text", "display name"),
        C("email", "text", "e-mail address (personal data)"),
        C("phone", "text", "phone number (personal data)"),
        C("company", "text", "organisation, for B2B customers and partners"),
        C("country", "text", "country"),
        C("city", "text", "city"),
        C("attributes", "json", "other attributes from the source, as a JSON object"),
        C("first_seen_at", "timestamp", "first order, answer or feedback seen"),
        C("created_at", "timestamp", "when heedful first stored the row", False),
        *provenance(),
    ),
    ("customer_id",),
)

ORDERS = Table(
    "orders",
    "Order lines. Returns and cancellations are kept, flagged with `is_return`, and excluded from revenue.",
    (
        C(
            "order_line_id",
            "text",
            "unique id of the line: source id, else a hash of source + content",
            False,
        ),
        C("order_id", "text", "order / invoice number", False),
        C("customer_id", "text", "customer (customers.customer_id); empty for guest orders"),
        C("ordered_at", "timestamp", "order time", False),
        C("product_id", "text", "product / SKU"),
        C("product_name", "text", "product description"),
        C("quantity", "float", "units; negative on returns", False),
        C("unit_price", "float", "price per unit", False),
        C("amount", "float", "quantity × unit_price (negative on returns)", False),
        C("currency", "text", "ISO currency code"),
        C("country", "text", "shipping / billing country"),
        C(
            "is_return",
            "bool",
            "true for returns and cancellations (e.g. Online Retail invoices 'C…')",
            False,
        ),
        C("status", "text", "source status (paid, refunded, cancelled…)"),
        *provenance(),
    ),
    ("order_line_id",),
    key_kept_by_store_on_duckdb=True,
)

FEEDBACK = Table(
    "feedback",
    "Any text from any source: reviews, tickets, social posts, call notes, survey comments.",
    (
        C("feedback_id", "text", "unique id: source + external id, else a content hash", False),
        C("external_id", "text", "id in the source system"),
        C("channel", "text", "review | ticket | social | call_note | survey | other", False),
        C("customer_id", "text", "customer if known"),
        C("author_kind", "text", "customer | prospect | staff | partner (staff reviews stay apart)", False),
        C("author", "text", "author name or handle (personal data)"),
        C("title", "text", "title or subject"),
        C("text", "text", "the text itself", False),
        C("rating", "float", "star rating or score given with the text, if any"),
        C("rating_scale", "float", "maximum of the rating scale (5 for stars)"),
        C("created_at", "timestamp", "when the text was written", False),
        C("language", "text", "language code, if known"),
        C("product_id", "text", "product the text is about, if known"),
        C("url", "text", "link to the original"),
        C("attributes", "json", "other fields from the source, as a JSON object"),
        *provenance(),
    ),
    ("feedback_id",),
)

FEEDBACK_ENRICHED = Table(
    "feedback_enriched",
    "Listening results per feedback item (written by `heedful listen classify --db`).",
    (
        C("feedback_id", "text", "feedback.feedback_id", False),
        C("text_hash", "text", "hash of the text classified; a changed text is classified again", False),
        C("sentiment", "text", "positive | negative | neutral | mixed", False),
        C("sentiment_score", "float", "in [-1, 1]", False),
        C("themes", "text", "taxonomy theme ids joined by ';'"),
        C("theme_sentiments", "json", "JSON object theme id -> positive | negative | neutral"),
        C("department", "text", "department owning the main theme"),
        C("journey_stage", "text", "journey stage of the main theme"),
        C("redacted_text", "text", "the text with personal data redacted, for display"),
        C("language", "text", "ISO 639-1 code where the text is not English (then no themes or opinion are read)"),
        C("model_version", "text", "classifier and taxonomy version", False),
        C("processed_at", "timestamp", "when it was classified", False),
    ),
    ("feedback_id",),
)

SURVEYS = Table(
    "surveys",
    "Survey definitions, versioned: each `heedful survey create` of a changed file adds a version.",
    (
        C("survey_id", "text", "slug + version", False),
        C("slug", "text", "public slug used in /s/<slug>", False),
        C("version", "int", "definition version, 1, 2, …", False),
        C("title", "text", "title", False),
        C("audience", "text", "customer | prospect | staff | partner | anonymous"),
        C("status", "text", "draft | open | closed", False),
        C("definition", "json", "the validated definition (YAML parsed to JSON)", False),
        C("created_at", "timestamp", "when this version was stored", False),
    ),
    ("survey_id",),
    (("slug", "version"),),
)

INVITATIONS = Table(
    "invitations",
    "Per-recipient survey links with unguessable tokens (only a hash of the token is stored).",
    (
        C("token_hash", "text", "SHA-256 of the invitation token", False),
        C("slug", "text", "survey slug", False),
        C("customer_id", "text", "recipient"),
        C("created_at", "timestamp", "when issued", False),
        C("used_at", "timestamp", "when the survey was completed with it"),
        C("batch_id", "text", "e-mailed invitations: the sending (invite_batches.batch_id); empty for a CSV link"),
        C("email", "text", "e-mailed invitations: the address it was sent to"),
        C("status", "text", "e-mailed invitations: sending | sent | failed (empty for a CSV link)"),
        C("sent_at", "timestamp", "when the mail server accepted the invitation"),
        C("opened_at", "timestamp", "first visit of the survey with this invitation's link"),
        C("reminded_at", "timestamp", "when the one reminder was sent (or tried)"),
        C("reminder_token_hash", "text", "SHA-256 of the reminder link's token (the same invitation, a second link)"),
        C("error", "text", "why the invitation or its reminder could not be sent, in words"),
    ),
    ("token_hash",),
)

RESPONSES = Table(
    "responses",
    "One row per respondent and survey (partial until `completed_at` is set).",
    (
        C("response_id", "text", "id", False),
        C("survey_id", "text", "surveys.survey_id answered", False),
        C("slug", "text", "survey slug", False),
        C("customer_id", "text", "respondent, if known (invitation or import)"),
        C("token_hash", "text", "invitation used, if any"),
        C("started_at", "timestamp", "first page saved", False),
        C("completed_at", "timestamp", "last page saved"),
        C("current_page", "int", "page to resume at"),
        C("wave", "text", "collection wave / period label"),
        *provenance(),
    ),
    ("response_id",),
)

ANSWERS = Table(
    "answers",
    "One row per answered field (long format), whatever tool collected it.",
    (
        C("response_id", "text", "responses.response_id", False),
        C("question_id", "text", "question id in the definition", False),
        C(
            "field",
            "text",
            "sub-field: '' for simple questions, row id for matrices, task id for choice",
            False,
        ),
        C("value", "text", "answer as text", False),
        C("value_num", "float", "numeric value where the answer is a number"),
        C("idempotency_key", "text", "key of the page submission that wrote it", False),
        C("answered_at", "timestamp", "when saved", False),
    ),
    ("response_id", "question_id", "field"),
)

REFERRALS = Table(
    "referrals",
    "Referral codes of advocates and the people they referred.",
    (
        C("referral_id", "text", "id", False),
        C("code", "text", "advocate's referral code", False),
        C("advocate_id", "text", "customers.customer_id of the advocate", False),
        C("referred_customer_id", "text", "the referred customer, once known"),
        C("referred_email", "text", "e-mail given at landing (personal data)"),
        C("status", "text", "landed | signed_up | converted", False),
        C("flags", "text", "self_referral; duplicate_account; …"),
        C("created_at", "timestamp", "landing / attribution time", False),
        C("converted_at", "timestamp", "first qualifying order"),
        C("order_id", "text", "first qualifying order id"),
    ),
    ("referral_id",),
)

REWARDS = Table(
    "rewards",
    "Append-only rewards ledger; `idempotency_key` makes every payout exactly-once.",
    (
        C("reward_id", "text", "id", False),
        C("idempotency_key", "text", "rule + referral + order: a retry cannot pay twice", False),
        C("advocate_id", "text", "who earns it", False),
        C("referral_id", "text", "referrals.referral_id"),
        C("amount", "float", "credit amount", False),
        C("currency", "text", "currency"),
        C("entry", "text", "earned | paid | reversed", False),
        C("created_at", "timestamp", "ledger time", False),
        C("period", "text", "month (YYYY-MM) the reward counts against the advocate's monthly cap"),
        C("order_id", "text", "the referred friend's order that earned it"),
    ),
    ("reward_id",),
    (("idempotency_key",),),
)

PEER_MATCHES = Table(
    "peer_matches",
    "Introductions of new or wavering customers to experienced advocates, and their outcome.",
    (
        C("match_id", "text", "id", False),
        C("customer_id", "text", "customer helped", False),
        C("advocate_id", "text", "advocate introduced", False),
        C("score", "float", "similarity score of the match"),
        C("reasons", "json", "why they were matched"),
        C("status", "text", "proposed | introduced | declined | completed", False),
        C("outcome", "text", "retained | churned | unknown"),
        C("created_at", "timestamp", "when proposed", False),
        C("arm", "text", "matched | holdout: randomised holdout for measuring the programme's effect"),
        C("reason", "text", "onboarding | at_risk: why the customer was a candidate"),
        C("introduced_at", "timestamp", "when the introduction was made"),
        C("outcome_at", "timestamp", "when the outcome was recorded"),
    ),
    ("match_id",),
)

DEPARTMENTS = Table(
    "departments",
    "Departments that own needs and themes (marketing, sales, delivery, services, support, product…).",
    (
        C("department_id", "text", "id", False),
        C("name", "text", "display name", False),
        C("email", "text", "where its alerts go"),
    ),
    ("department_id",),
)

JOURNEY_STAGES = Table(
    "journey_stages",
    "Stages of the customer journey, in order.",
    (
        C("stage_id", "text", "id", False),
        C("name", "text", "display name", False),
        C("position", "int", "order along the journey", False),
    ),
    ("stage_id",),
)

NEEDS = Table(
    "needs",
    "Customer needs per journey stage, owned by a department and measured by metrics with targets.",
    (
        C("need_id", "text", "id", False),
        C("label", "text", "the need in the customer's words", False),
        C("stage_id", "text", "journey_stages.stage_id", False),
        C("department_id", "text", "departments.department_id", False),
        C("metrics", "json", "metric definitions and targets (JSON list)", False),
    ),
    ("need_id",),
)

USERS = Table(
    "users",
    "People who sign in to the web app.",
    (
        C("user_id", "text", "id", False),
        C("email", "text", "sign-in e-mail", False),
        C("password_hash", "text", "argon2 hash", False),
        C("role", "text", "admin | analyst | viewer", False),
        C("active", "bool", "can sign in", False),
        C("created_at", "timestamp", "created", False),
        C(
            "sessions_after",
            "float",
            "sessions signed in before this time (epoch seconds) are refused: set at sign-out, password and role change",
        ),
        C("department", "text", "department id the user belongs to: a viewer may work that department's cases"),
    ),
    ("user_id",),
    (("email",),),
)

AUDIT_LOG = Table(
    "audit_log",
    "Who changed what in the web app and API: sign-ins, imports, users, settings, tokens.",
    (
        C("audit_id", "text", "id", False),
        C("occurred_at", "timestamp", "when it happened (UTC)", False),
        C("user_id", "text", "users.user_id of the actor; empty for failed sign-ins"),
        C("actor", "text", "e-mail of the actor as typed or stored (personal data)"),
        C("action", "text", "what was done, e.g. user.create, import.upload, login.failed", False),
        C("target", "text", "what it was done to (user e-mail, import id, department id…)"),
        C("detail", "json", "JSON object with the change (old and new values, counts)"),
        C("ip", "text", "client address"),
    ),
    ("audit_id",),
)

API_TOKENS = Table(
    "api_tokens",
    "Bearer tokens for scripts using the REST API; only a SHA-256 of each token is stored.",
    (
        C("token_id", "text", "id (also the visible prefix of the token)", False),
        C("user_id", "text", "users.user_id the token acts as", False),
        C("name", "text", "what the token is for", False),
        C("token_hash", "text", "SHA-256 of the whole token", False),
        C("created_at", "timestamp", "created", False),
        C("last_used_at", "timestamp", "last request made with it"),
        C("expires_at", "timestamp", "no longer accepted after this time, if set"),
        C("revoked_at", "timestamp", "revoked, if set"),
    ),
    ("token_id",),
    (("token_hash",),),
)

IMPORTS = Table(
    "imports",
    "One row per import run, with its counts.",
    (
        C("import_id", "text", "id", False),
        C("entity", "text", "orders | customers | feedback | responses", False),
        C("preset", "text", "preset used", False),
        C("source_file", "text", "file name", False),
        C("file_hash", "text", "SHA-256 of the file"),
        C("started_at", "timestamp", "start", False),
        C("finished_at", "timestamp", "end"),
        C("accepted", "int", "rows stored"),
        C("rejected", "int", "rows quarantined"),
        C("duplicates", "int", "rows already stored (skipped)"),
        C("status", "text", "running | done | failed", False),
    ),
    ("import_id",),
)

QUARANTINE = Table(
    "quarantine",
    "Rows an import could not accept, with the reason and their raw content, for fixing and re-import.",
    (
        C("import_id", "text", "imports.import_id", False),
        C("source_file", "text", "file", False),
        C("line", "int", "1-based line in the file (the header is line 1 for CSV)", False),
        C("error", "text", "why the row was refused", False),
        C("raw", "text", "the raw row as JSON", False),
        C("created_at", "timestamp", "when quarantined", False),
    ),
    ("import_id", "line"),
)

CUSTOMER_VALUE = Table(
    "customer_value",
    "Per-customer value results (written by `heedful value clv` / `heedful value rfm` and the demo).",
    (
        C("customer_id", "text", "customers.customer_id", False),
        C("model", "text", "model used for the predictions", False),
        C("frequency", "float", "repeat transactions in the observation window"),
        C("recency", "float", "time of last transaction since the first, in time units"),
        C("T", "float", "age: time since the first transaction, in time units"),
        C("monetary_value", "float", "mean value of repeat transactions"),
        C("p_alive", "float", "probability the customer is still active"),
        C("expected_purchases", "float", "expected transactions over the horizon"),
        C("expected_spend", "float", "expected mean spend per transaction"),
        C("clv", "float", "discounted customer lifetime value over the horizon"),
        C("horizon_months", "int", "months the CLV and the expected purchases cover (`value clv --horizon`)"),
        C("rfm_score", "text", "R, F and M scores, e.g. '545'"),
        C("segment", "text", "RFM segment name (champions, at risk, …)"),
        C("churn_risk", "float", "probability of churn (from retain), if computed"),
        C("computed_at", "timestamp", "when computed", False),
    ),
    ("customer_id",),
)

OPERATIONS = Table(
    "operations",
    "Imported operations metrics per period (on-time deliveries, first-contact resolution…), as counts or values.",
    (
        C("metric", "text", "metric name, e.g. on_time_delivery", False),
        C("period_start", "date", "first day of the period the figure covers", False),
        C("segment", "text", "segment / site / region the figure covers ('' for all)", False),
        C("numerator", "float", "count of successes (e.g. orders delivered on time)"),
        C("denominator", "float", "count of cases (e.g. orders delivered)"),
        C("value", "float", "the figure itself where it is not a ratio of counts"),
        C("department_id", "text", "department reporting it"),
        *provenance(),
    ),
    ("metric", "period_start", "segment"),
)

METRIC_VALUES = Table(
    "metric_values",
    "History of journey metric values per period (written by scorecards and reports), for trends and alerts.",
    (
        C("need_id", "text", "needs.need_id, or '_headline' for report headline figures", False),
        C("metric_id", "text", "metric id within the need", False),
        C("period", "text", "period label, e.g. 2026-10", False),
        C("audience", "text", "external | staff | partner", False),
        C("value", "float", "measured value"),
        C("low", "float", "lower bound of the 95% interval"),
        C("high", "float", "upper bound of the 95% interval"),
        C("n", "int", "sample size"),
        C("target", "float", "target at the time"),
        C("status", "text", "met | at_risk | missed | no_data"),
        C("computed_at", "timestamp", "when computed", False),
    ),
    ("need_id", "metric_id", "period", "audience"),
)

ALERTS = Table(
    "alerts",
    "Journey alerts: worsening needs, emerging negative themes, NPS drops of valuable segments, at-risk value spikes.",
    (
        C("alert_id", "text", "stable id: kind + subject + period (re-running finds the same alert)", False),
        C("kind", "text", "need_worsened | emerging_negative_theme | segment_nps_drop | at_risk_value_spike", False),
        C("severity", "text", "high | medium", False),
        C("audience", "text", "external | staff | partner", False),
        C("subject", "text", "what the alert is about: need/metric id, theme id, segment", False),
        C("need_id", "text", "need concerned, if any"),
        C("department_id", "text", "department that owns it, if known"),
        C("period", "text", "period where the change was seen", False),
        C("title", "text", "one-line summary", False),
        C("detail", "text", "the figures behind it"),
        C("value_before", "float", "value in the comparison period"),
        C("value_after", "float", "value in the period"),
        C("p_value", "float", "p-value of the test (after the multiple-testing correction)"),
        C("created_at", "timestamp", "when raised", False),
        C("sent_at", "timestamp", "when delivered by e-mail / webhook"),
    ),
    ("alert_id",),
)

ADVOCATES = Table(
    "advocates",
    "Customers invited to the advocacy programme: referral code, consent and peer-mentoring opt-in.",
    (
        C("advocate_id", "text", "customers.customer_id", False),
        C("code", "text", "referral code (short, unguessable, unique); link /r/<code>", False),
        C("status", "text", "invited | joined | declined | opted_out", False),
        C("peer_opt_in", "bool", "agreed to be introduced to new or wavering customers", False),
        C("capacity", "int", "how many customers the advocate accepts at a time", False),
        C("invited_at", "timestamp", "when invited", False),
        C("joined_at", "timestamp", "when the advocate joined (consented)"),
        C("updated_at", "timestamp", "last change of status or consent", False),
        C("source", "text", "who enrolled the advocate (cli, web, demo)"),
    ),
    ("advocate_id",),
    (("code",),),
)

STORIES = Table(
    "stories",
    "Testimonials and case stories from advocates, with consent per publication scope and staff approval.",
    (
        C("story_id", "text", "id", False),
        C("idempotency_key", "text", "form submission key: a double submit stores one story", False),
        C("advocate_id", "text", "customers.customer_id of the author, if known"),
        C("author_name", "text", "name to show (personal data)"),
        C("title", "text", "headline", False),
        C("body", "text", "the story", False),
        C("consent_website", "bool", "may be published on the website", False),
        C("consent_social", "bool", "may be published on social media", False),
        C("consent_sales", "bool", "may be used in sales decks", False),
        C("status", "text", "submitted | approved | rejected", False),
        C("submitted_at", "timestamp", "when submitted", False),
        C("reviewed_by", "text", "staff user who approved or rejected"),
        C("reviewed_at", "timestamp", "when reviewed"),
    ),
    ("story_id",),
    (("idempotency_key",),),
)

CHURN_SCORES = Table(
    "churn_scores",
    "Per-customer churn risk from `heedful retain at-risk` / `churn-score`, with reasons and an action.",
    (
        C("customer_id", "text", "customers.customer_id", False),
        C("churn_risk", "float", "calibrated probability of no purchase (or cancellation) in the horizon", False),
        C("clv", "float", "customer lifetime value used for value at risk"),
        C("value_at_risk", "float", "clv × churn_risk"),
        C(
            "reasons",
            "json",
            "top reasons: JSON list of {feature, value, effect, context?} (effect in log-odds, > 0 raises risk; "
            "context: the customer's feature values the plain-words text reads)",
        ),
        C("action", "text", "suggested action: reach out | peer advocate | offer"),
        C("horizon_days", "int", "churn horizon the risk refers to"),
        C("model_version", "text", "model and feature set that produced the score", False),
        C("scored_at", "timestamp", "when scored", False),
    ),
    ("customer_id",),
)

CHURN_RUNS = Table(
    "churn_runs",
    "Each churn scoring run and how well its model told churners apart, out of fold, so the scores are shown "
    "with how far to trust them.",
    (
        C("run_id", "text", "one id per scoring run", False),
        C("model_version", "text", "model and feature set (as churn_scores.model_version)", False),
        C("horizon_days", "int", "churn = no purchase in this many days", False),
        C("trained_cutoff", "timestamp", "the model learnt who churned after this date", False),
        C("n_train_customers", "int", "customers the model learnt from", False),
        C("train_churn_rate", "float", "share of them who churned"),
        C("cv_auc", "float", "cross-validated AUC (0.5 = chance, 1 = perfect)"),
        C("cv_auc_low", "float", "its 95% interval, lower end"),
        C("cv_auc_high", "float", "its 95% interval, upper end"),
        C("cv_brier", "float", "cross-validated Brier score of the risks"),
        C("n_scored", "int", "customers scored"),
        C("scored_at", "timestamp", "when scored", False),
    ),
    ("run_id",),
)

OFFERS = Table(
    "offers",
    "Next-best offers per customer from `heedful retain offers`, ranked, with why.",
    (
        C("customer_id", "text", "customers.customer_id", False),
        C("rank", "int", "1 = best offer", False),
        C("product_id", "text", "recommended product", False),
        C("product_name", "text", "product description"),
        C("score", "float", "recommender score (higher is better; comparable within a customer)"),
        C("method", "text", "item-item | als | popularity", False),
        C("explanation", "text", "e.g. customers who bought X also bought Y"),
        C("created_at", "timestamp", "when computed", False),
    ),
    ("customer_id", "rank"),
)

TABLES: tuple[Table, ...] = (
    CUSTOMERS,
    ORDERS,
    FEEDBACK,
    FEEDBACK_ENRICHED,
    SURVEYS,
    INVITATIONS,
    RESPONSES,
    ANSWERS,
    REFERRALS,
    REWARDS,
    PEER_MATCHES,
    ADVOCATES,
    STORIES,
    DEPARTMENTS,
    JOURNEY_STAGES,
    NEEDS,
    USERS,
    AUDIT_LOG,
    API_TOKENS,
    IMPORTS,
    QUARANTINE,
    CUSTOMER_VALUE,
    OPERATIONS,
    METRIC_VALUES,
    ALERTS,
    CHURN_SCORES,
    CHURN_RUNS,
    OFFERS,
    *LOOP_TABLES,
    *NOTIFY_TABLES,
    *JOB_TABLES,
    *INVITE_TABLES,
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
