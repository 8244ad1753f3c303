"""HTTP routes of the shop."""

import logging
from datetime import date

from flask import Blueprint, abort, jsonify, request

from shop import emails, orders, payments
from shop.catalog import CATALOG, find_coupon, price_cents

log = logging.getLogger("shop.views")
bp = Blueprint("shop", __name__)


@bp.get("/health")
def health():
    return {"ok": True}


@bp.get("/products/<sku>")
def product(sku):
    item = CATALOG[sku]
    return {"sku": item.sku, "name": item.name, "price_cents": item.price_cents}


@bp.get("/orders")
def list_orders():
    page = int(request.args.get("page", "1"))
    if page < 1:
        abort(400, description="page must be at least 1")
    return jsonify(orders.page_of(page))


@bp.post("/cart/price")
def cart_price():
    body = request.get_json(force=True)
    total = price_cents(body["items"])
    code = body.get("coupon")
    if code:
        coupon = find_coupon(code)
        total = total - total * coupon.percent // 100
    return {"total_cents": total}


@bp.post("/checkout")
def checkout():
    body = request.get_json(force=True)
    total = price_cents(body["items"])
    order = orders.add_order(total)
    try:
        receipt = payments.charge(order["id"], total)
    except payments.PaymentUnavailable:
        return {"error": "payment service unavailable, try again later"}, 503
    log.info("Order %s paid: %s cents (receipt %s)", order["id"], total, receipt.get("receipt"))
    email = emails.confirmation(order["id"], body["items"], total)
    return {"order": order["id"], "total_cents": total, "email": email}, 201


@bp.get("/stats/basket")
def basket_average():
    day = request.args.get("day", date.today().isoformat())
    totals = orders.totals_on(day)
    return {"day": day, "orders": len(totals), "average_cents": sum(totals) // len(totals)}
