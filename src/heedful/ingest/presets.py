"""Presets: how the columns of a known export map onto heedful's canonical fields.

A preset names, for each canonical field, the source columns that may hold it (first one present
wins; names match case-, space- and underscore-insensitively), constants for fields the export
does not carry, and a few rules (which lines are returns, which date formats to try).
`--map COLUMN=field` on the command line overrides a preset field by field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from heedful.errors import ConfigError

ENTITIES = ("orders", "customers", "feedback")

# Canonical fields a file can provide, per entity, with a one-line meaning (shown in --help and docs).
FIELDS: dict[str, dict[str, str]] = {
    "orders": {
        "order_line_id": "id of the order line in the source (else a content hash is used)",
        "order_id": "order / invoice number (required)",
        "customer_id": "customer id; empty for guest orders",
        "ordered_at": "order date-time (required)",
        "product_id": "product / SKU",
        "product_name": "product description",
        "quantity": "units (required; negative only on returns)",
        "unit_price": "price per unit (required unless amount is given)",
        "amount": "line amount (default quantity × unit_price)",
        "currency": "ISO currency code",
        "country": "country",
        "is_return": "true/yes/1 marks a return or cancellation",
        "status": "source status (paid, refunded, cancelled…)",
        "email": "customer e-mail (stored on the customer row)",
        "name": "customer name (stored on the customer row)",
    },
    "customers": {
        "customer_id": "stable customer id (required)",
        "kind": "customer | prospect | staff | partner (default from --kind)",
        "name": "display name",
        "email": "e-mail address",
        "phone": "phone number",
        "company": "organisation",
        "country": "country",
        "city": "city",
        "first_seen_at": "first contact date-time",
    },
    "feedback": {
        "external_id": "id in the source system (else a content hash is used)",
        "channel": "review | ticket | social | call_note | survey | other",
        "customer_id": "customer id, if known",
        "author_kind": "customer | prospect | staff | partner",
        "author": "author name or handle",
        "title": "title or subject",
        "text": "the text itself (required)",
        "rating": "star rating or score",
        "rating_scale": "maximum of the rating scale",
        "created_at": "when it was written (required)",
        "language": "language code",
        "product_id": "product the text is about",
        "url": "link to the original",
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "ordered_at", "quantity"),
    "customers": ("customer_id",),
    "feedback": ("text", "created_at"),
}

# Date formats tried after ISO 8601 (with or without offset), in this order.
DEFAULT_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
)
US_FIRST_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    *[f for f in DEFAULT_DATE_FORMATS if not f.startswith("%m/")],
)


@dataclass(frozen=True)
class Preset:
    """How one kind of export maps onto an entity's canonical fields."""

    name: str
    entity: str
    description: str
    # canonical field -> candidate source columns (first present wins)
    columns: dict[str, tuple[str, ...]]
    constants: dict[str, object] = field(default_factory=dict)
    # fields whose value joins several columns: field -> (columns, separator, label the parts)
    joined: dict[str, tuple[tuple[str, ...], str, bool]] = field(default_factory=dict)
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    # orders: SQL-free return rules understood by the importer
    return_prefix: str | None = None  # order ids starting with this are returns/cancellations
    return_statuses: tuple[str, ...] = ("returned", "refunded", "cancelled", "canceled", "voided", "return")
    cancelled_column: tuple[str, ...] = ()  # a non-empty value here marks a cancellation
    # fields filled down from the first line of the same order (Shopify repeats them only once)
    order_level: tuple[str, ...] = ()
    # feedback: words that stand for ratings (Zendesk "good"/"bad")
    rating_words: dict[str, float] = field(default_factory=dict)
    strip_float_ids: bool = False  # "17850.0" -> "17850" for ids written by spreadsheet tools

    def __post_init__(self) -> None:
        unknown = (set(self.columns) | set(self.constants) | set(self.joined)) - set(FIELDS[self.entity])
        if unknown:
            raise ValueError(f"preset {self.name}: unknown fields {sorted(unknown)}")


def normalise(name: str) -> str:
    """Column names compare without case, spaces, punctuation: 'Customer ID' == 'customer_id'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


# ---------------------------------------------------------------------------------------- orders
_GENERIC_ORDERS = {
    "order_line_id": ("order_line_id", "line_id", "line item id", "lineitem id"),
    "order_id": ("order_id", "order", "order number", "invoice", "invoice_no", "invoiceno", "transaction_id"),
    "customer_id": ("customer_id", "customer", "client_id", "user_id", "buyer_id", "customerid"),
    "ordered_at": ("ordered_at", "order_date", "date", "invoice_date", "invoicedate", "created_at", "timestamp"),
    "product_id": ("product_id", "sku", "stock_code", "stockcode", "item_id", "product_code"),
    "product_name": ("product_name", "product", "description", "item", "item_name", "title"),
    "quantity": ("quantity", "qty", "units"),
    "unit_price": ("unit_price", "price", "unitprice", "item_price"),
    "amount": ("amount", "line_total", "total", "revenue", "sales", "value"),
    "currency": ("currency",),
    "country": ("country",),
    "is_return": ("is_return", "return", "returned"),
    "status": ("status", "order_status"),
    "email": ("email", "customer_email"),
    "name": ("customer_name",),
}

ORDER_PRESETS = {
    "generic": Preset(
        "generic",
        "orders",
        "Any order-line table: columns found by common names (order_id, customer_id, date, sku, quantity, price…).",
        _GENERIC_ORDERS,
    ),
    "online-retail": Preset(
        "online-retail",
        "orders",
        'UCI Online Retail / Online Retail II: invoices starting with "C" are cancellations (kept, flagged).',
        {
            "order_id": ("InvoiceNo", "Invoice"),
            "product_id": ("StockCode",),
            "product_name": ("Description",),
            "quantity": ("Quantity",),
            "ordered_at": ("InvoiceDate",),
            "unit_price": ("UnitPrice", "Price"),
            "customer_id": ("CustomerID", "Customer ID"),
            "country": ("Country",),
        },
        constants={"currency": "GBP"},
        date_formats=US_FIRST_DATE_FORMATS,  # the UCI workbook exported to CSV writes 12/1/2010 8:26
        return_prefix="C",
        strip_float_ids=True,
    ),
    "shopify": Preset(
        "shopify",
        "orders",
        "Shopify orders export (one row per line item; order fields only on the first line are filled down). "
        "Refunded/voided or cancelled orders are flagged as returns; the customer id is the e-mail.",
        {
            "order_id": ("Name", "Order Name", "Id"),
            "customer_id": ("Email", "Customer Email"),
            "email": ("Email", "Customer Email"),
            "name": ("Billing Name", "Shipping Name"),
            "ordered_at": ("Created at", "Paid at"),
            "product_id": ("Lineitem sku", "Lineitem SKU"),
            "product_name": ("Lineitem name",),
            "quantity": ("Lineitem quantity",),
            "unit_price": ("Lineitem price",),
            "currency": ("Currency",),
            "country": ("Billing Country", "Shipping Country"),
            "status": ("Financial Status",),
        },
        date_formats=("%Y-%m-%d %H:%M:%S %z", *DEFAULT_DATE_FORMATS),
        cancelled_column=("Cancelled at",),
        order_level=("customer_id", "email", "name", "ordered_at", "currency", "country", "status"),
    ),
}

# ------------------------------------------------------------------------------------- customers
_GENERIC_CUSTOMERS = {
    "customer_id": ("customer_id", "customerid", "id", "client_id", "user_id", "customer"),
    "kind": ("kind", "type", "customer_kind"),
    "name": ("name", "full_name", "customer_name"),
    "email": ("email", "e-mail", "email_address"),
    "phone": ("phone", "telephone", "mobile", "phone_number"),
    "company": ("company", "organisation", "organization", "account"),
    "country": ("country",),
    "city": ("city", "town"),
    "first_seen_at": ("first_seen_at", "created_at", "signup_date", "customer_since", "since"),
}

CUSTOMER_PRESETS = {
    "generic": Preset(
        "generic",
        "customers",
        "Any customer list: id, name, e-mail, phone, company, country, city; other columns become attributes.",
        _GENERIC_CUSTOMERS,
    ),
    "shopify": Preset(
        "shopify",
        "customers",
        "Shopify customers export: name = First Name + Last Name; other columns become attributes.",
        {
            "customer_id": ("Customer ID", "Email"),
            "email": ("Email",),
            "phone": ("Phone", "Default Address Phone"),
            "company": ("Company", "Default Address Company"),
            "country": ("Country", "Default Address Country Code"),
            "city": ("City", "Default Address City"),
        },
        joined={"name": (("First Name", "Last Name"), " ", False)},
    ),
}

# -------------------------------------------------------------------------------------- feedback
_GENERIC_FEEDBACK = {
    "external_id": ("external_id", "id", "review_id", "feedback_id", "ticket_id"),
    "channel": ("channel",),
    "customer_id": ("customer_id", "customerid", "user_id", "client_id"),
    "author_kind": ("author_kind",),
    "author": ("author", "user", "username", "user_name", "name", "reviewer"),
    "title": ("title", "subject", "headline", "summary"),
    "text": ("text", "review_text", "review", "body", "comment", "content", "message", "description", "feedback"),
    "rating": ("rating", "stars", "score", "star_rating"),
    "rating_scale": ("rating_scale",),
    "created_at": ("created_at", "date", "review_date", "timestamp", "time", "submitted_at"),
    "language": ("language", "lang"),
    "product_id": ("product_id", "sku", "item_id"),
    "url": ("url", "link"),
}

FEEDBACK_PRESETS = {
    "generic": Preset(
        "generic",
        "feedback",
        "Any text table: text, rating, date, author, customer id…; other columns become attributes.",
        _GENERIC_FEEDBACK,
        constants={"channel": "other"},
    ),
    "trustpilot": Preset(
        "trustpilot",
        "feedback",
        "Trustpilot review export (Review ID, Review Created (UTC), Review Title, Review Content, Review Stars…).",
        {
            "external_id": ("Review ID", "Id"),
            "created_at": ("Review Created (UTC)", "Review Created", "Date", "Created at"),
            "title": ("Review Title", "Title"),
            "text": ("Review Content", "Review Text", "Content"),
            "rating": ("Review Stars", "Stars", "Rating"),
            "author": ("Review Consumer Name", "Consumer Name", "Reviewer Name", "Name"),
            "customer_id": ("Reference ID", "Review Consumer User ID", "Customer ID"),
            "language": ("Review Language", "Language"),
            "url": ("Review URL", "Link"),
        },
        constants={"channel": "review", "rating_scale": 5.0},
    ),
    "yelp": Preset(
        "yelp",
        "feedback",
        "Yelp reviews (Yelp Open Dataset review.json lines: review_id, user_id, business_id, stars, text, date).",
        {
            "external_id": ("review_id",),
            "author": ("user_id", "user_name"),
            "product_id": ("business_id",),
            "rating": ("stars", "rating"),
            "text": ("text",),
            "created_at": ("date", "time_created"),
            "url": ("url",),
        },
        constants={"channel": "review", "rating_scale": 5.0},
    ),
    "app-store": Preset(
        "app-store",
        "feedback",
        "App Store / Google Play review exports (review id, title, review text, rating, date, user name, version).",
        {
            "external_id": ("Review ID", "id", "reviewId", "review_id"),
            "created_at": ("Review Submit Date and Time", "date", "Date", "at", "updated", "Review Last Update Date"),
            "title": ("Review Title", "title", "Title"),
            "text": ("Review Text", "review", "content", "Review", "body"),
            "rating": ("Star Rating", "rating", "score", "Rating"),
            "author": ("userName", "Nickname", "author", "User Name"),
            "language": ("Reviewer Language", "language"),
            "product_id": ("Package Name", "App Version Name", "appVersion", "version"),
            "url": ("Review Link", "url"),
        },
        constants={"channel": "review", "rating_scale": 5.0},
    ),
    "zendesk": Preset(
        "zendesk",
        "feedback",
        "Zendesk tickets (export CSV or JSON lines): subject + description; satisfaction good/bad -> rating 1/0.",
        {
            "external_id": ("id", "Id", "Ticket ID"),
            "created_at": ("created_at", "Created at"),
            "title": ("subject", "Subject"),
            "text": ("description", "Description", "Comment", "comment.body"),
            "customer_id": ("requester_id", "Requester id", "Requester external id"),
            "author": ("Requester", "requester.name", "Requester name"),
            "rating": ("satisfaction_rating.score", "Satisfaction Score", "Satisfaction rating", "satisfaction_rating"),
            "url": ("url", "URL"),
        },
        constants={"channel": "ticket", "rating_scale": 1.0},
        rating_words={"good": 1.0, "bad": 0.0},
    ),
    "glassdoor": Preset(
        "glassdoor",
        "feedback",
        "Glassdoor-style employee reviews (headline, pros, cons, overall_rating): stored with author_kind=staff, "
        "apart from customer feedback.",
        {
            "external_id": ("review_id", "id"),
            "created_at": ("date_review", "date", "Review Date"),
            "title": ("headline", "Title", "summary"),
            "rating": ("overall_rating", "rating", "Overall Rating"),
            "author": ("job_title", "Job Title"),
        },
        constants={"channel": "review", "author_kind": "staff", "rating_scale": 5.0},
        joined={"text": (("pros", "cons"), "\n", True)},
    ),
}

PRESETS: dict[str, dict[str, Preset]] = {
    "orders": ORDER_PRESETS,
    "customers": CUSTOMER_PRESETS,
    "feedback": FEEDBACK_PRESETS,
}


def get_preset(entity: str, name: str) -> Preset:
    """The preset `name` for `entity`, with a clear error listing the choices."""
    if entity not in PRESETS:
        raise ConfigError(f"Unknown entity {entity!r}; use one of {', '.join(ENTITIES)}.")
    presets = PRESETS[entity]
    if name not in presets:
        raise ConfigError(f"Unknown preset {name!r} for {entity}; use one of: {', '.join(sorted(presets))}.")
    return presets[name]
