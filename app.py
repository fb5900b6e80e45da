"""refpay: wiring only. The rules live in chalicelib/domain and chalicelib/payments."""
from chalice import Chalice

from chalicelib.api.auth import auth_bp
from chalicelib.api.compliance import compliance_bp
from chalicelib.api.meta import meta_bp
from chalicelib.api.payments import payments_bp
from chalicelib.api.referrals import referrals_bp
from chalicelib.logs import configure_logging, middleware
from chalicelib.schedules.nightly import schedules_bp

app = Chalice(app_name="refpay", configure_logs=False)
configure_logging()
app.register_middleware(middleware, "all")
app.register_blueprint(auth_bp)
app.register_blueprint(meta_bp)
app.register_blueprint(referrals_bp)
app.register_blueprint(payments_bp)
app.register_blueprint(compliance_bp)
app.register_blueprint(schedules_bp)
