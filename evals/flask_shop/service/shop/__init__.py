"""A small Flask shop: catalog, cart pricing, orders, checkout through a payment gateway."""

import logging
import time

from flask import Flask, g, request

access_log = logging.getLogger("shop.access")


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})

    from shop.views import bp

    app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _access_line(response):
        took_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info(
            '%s - "%s %s" %s %.1fms',
            request.remote_addr,
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            took_ms,
        )
        return response

    return app
