"""Order confirmation e-mails (plain text)."""

import logging

from shop.catalog import CATALOG

log = logging.getLogger("shop.emails")
MAX_BODY_CHARS = 320


def confirmation(order_id, items, total_cents):
    lines = [f"Thank you for your order #{order_id}.", "", "You ordered:"]
    for item in items:
        product = CATALOG[item["sku"]]
        qty = int(item.get("qty", 1))
        lines.append(f"  {qty} x {product.name:<24} {product.price_cents * qty / 100:>8.2f} EUR")
    lines += [
        "",
        f"Total: {total_cents / 100:.2f} EUR",
        "",
        "We will e-mail you again when your parcel leaves our warehouse.",
        "Questions? Reply to this e-mail or call +49 30 1234567 (Mon-Fri, 9-17).",
        "-- The Coffee Gear Shop",
    ]
    body = "\n".join(lines)
    if len(body) > MAX_BODY_CHARS:
        log.warning(
            "Confirmation e-mail body truncated (max_chars=%d, needed=%d)",
            MAX_BODY_CHARS,
            len(body),
        )
        body = body[:MAX_BODY_CHARS]
    return body
