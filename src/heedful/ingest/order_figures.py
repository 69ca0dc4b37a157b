"""How the order figures are counted, in one place: SQL aggregates over the `orders` table.

A return or cancellation (`is_return`) is kept as a row but is not an order: orders and revenue count
purchases only, returns are counted apart. The overview page, the demo's summary and a customer's profile
all use these, so "orders" has one value wherever it is shown.
"""

from __future__ import annotations

#: purchases (distinct order ids that are not returns)
ORDERS = "COUNT(DISTINCT CASE WHEN NOT is_return THEN order_id END)"
#: money taken for purchases; returns are not netted here (see RETURNED_AMOUNT)
REVENUE = "COALESCE(SUM(CASE WHEN NOT is_return THEN amount END), 0)"
#: returns and cancellations (distinct order ids)
RETURNS = "COUNT(DISTINCT CASE WHEN is_return THEN order_id END)"
#: the (negative) amount of returns and cancellations
RETURNED_AMOUNT = "COALESCE(SUM(CASE WHEN is_return THEN amount END), 0)"
#: customers with at least one purchase
CUSTOMERS_ORDERING = "COUNT(DISTINCT CASE WHEN NOT is_return THEN customer_id END)"
