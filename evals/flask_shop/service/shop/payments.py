"""Payment gateway client: one JSON POST per charge."""

import json
import logging
import os
import urllib.error
import urllib.request

log = logging.getLogger("shop.payments")
TIMEOUT_SECONDS = 2.0


class PaymentUnavailable(Exception):
    """The gateway could not be reached; the customer is asked to try again later."""


def gateway_url():
    return os.environ.get("PAYMENT_GATEWAY_URL", "http://127.0.0.1:9/charge")


def charge(order_id, amount_cents):
    body = json.dumps({"order": order_id, "amount": amount_cents}).encode()
    request = urllib.request.Request(
        gateway_url(), data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.load(response)
    except urllib.error.URLError as error:
        log.error("Payment gateway unreachable: %s", error)
        raise PaymentUnavailable(str(error)) from error
