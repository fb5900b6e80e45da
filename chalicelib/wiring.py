"""The composition root: the Chalice app assembled from the authorizer, the API (its declared routes and the
journey steps of the registry) and the scheduled functions. `app.py` calls `create_app()` once; a test may
build another app, e.g. after registering a throwaway journey step."""
from __future__ import annotations

from chalice import Chalice

from . import settings
from .api.application import api_blueprint
from .api.auth import auth_bp
from .api.headers import security_headers
from .logs import middleware
from .schedules.claim_files import workers_bp
from .schedules.nightly import schedules_bp


def create_app() -> Chalice:
    settings.check_at_cold_start()  # deployed: a missing or malformed setting stops here, naming the variable
    app = Chalice(app_name="refpay", configure_logs=False)
    app.register_middleware(middleware, "all")
    app.register_middleware(security_headers, "http")
    app.register_blueprint(auth_bp)
    app.register_blueprint(api_blueprint())
    app.register_blueprint(schedules_bp)
    app.register_blueprint(workers_bp)
    return app
