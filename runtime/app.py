"""The Chalice application: create it, register middleware and blueprints. Nothing else."""
from chalice import Chalice

from chalicelib.audit.routes import bp as audit_bp
from chalicelib.core import observability
from chalicelib.core.http import RATE_LIMIT_ORDER, add_guard
from chalicelib.health.routes import bp as health_bp
from chalicelib.openapi.routes import bp as openapi_bp
from chalicelib.ratelimit.guard import rate_limit_guard
from chalicelib.tickets.routes import bp as tickets_bp

app = Chalice(app_name="saas-backend")
observability.register(app)
add_guard(rate_limit_guard, order=RATE_LIMIT_ORDER)
app.register_blueprint(health_bp)
app.register_blueprint(openapi_bp)
app.register_blueprint(tickets_bp)
app.register_blueprint(audit_bp)
