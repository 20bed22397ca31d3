"""The Chalice application: create it, register middleware and blueprints. Nothing else."""

from chalice import Chalice

from chalicelib.alerts.routes import bp as alerts_bp
from chalicelib.audit.routes import bp as audit_bp
from chalicelib.auth import guard as auth_guard
from chalicelib.auth import permission_guard
from chalicelib.auth.routes import bp as auth_bp
from chalicelib.billing.routes import bp as billing_bp
from chalicelib.core import cors, observability
from chalicelib.core.http import RATE_LIMIT_ORDER, add_guard
from chalicelib.customers.routes import bp as customers_bp
from chalicelib.health.routes import bp as health_bp
from chalicelib.invoices.routes import bp as invoices_bp
from chalicelib.keys.routes import bp as keys_bp
from chalicelib.metering.routes import bp as metering_bp
from chalicelib.notifications.routes import bp as notifications_bp
from chalicelib.openapi.routes import bp as openapi_bp
from chalicelib.operator_keys.routes import bp as operator_keys_bp
from chalicelib.ops.handlers import bp as ops_bp
from chalicelib.payments.routes import bp as payments_bp
from chalicelib.ratelimit.guard import rate_limit_guard
from chalicelib.tickets.routes import bp as tickets_bp
from chalicelib.users.mfa_routes import bp as users_mfa_bp
from chalicelib.users.routes import bp as users_bp
from chalicelib.webhooks.routes import bp as webhooks_bp

app = Chalice(app_name="saas-backend")
# Invoice PDFs (GET /invoices/{id}/pdf): Chalice base64-encodes them and API Gateway decodes them.
app.api.binary_types.append("application/pdf")
observability.register(app)
auth_guard.register()
permission_guard.register()
add_guard(rate_limit_guard, order=RATE_LIMIT_ORDER)
app.register_blueprint(health_bp)
app.register_blueprint(openapi_bp)
app.register_blueprint(auth_bp)
app.register_blueprint(keys_bp)
app.register_blueprint(customers_bp)
app.register_blueprint(operator_keys_bp)
app.register_blueprint(tickets_bp)
app.register_blueprint(audit_bp)
app.register_blueprint(ops_bp)
app.register_blueprint(metering_bp)
app.register_blueprint(billing_bp)
app.register_blueprint(invoices_bp)
app.register_blueprint(notifications_bp)
app.register_blueprint(users_bp)
app.register_blueprint(users_mfa_bp)
app.register_blueprint(webhooks_bp)
app.register_blueprint(alerts_bp)
app.register_blueprint(payments_bp)
# Last: a preflight OPTIONS for every path above, and CORS headers for the portal's origin.
cors.register(app)
