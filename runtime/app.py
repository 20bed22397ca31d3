"""The Chalice application: create it, register middleware and blueprints. Nothing else."""
from chalice import Chalice

from chalicelib.core import observability
from chalicelib.health.routes import bp as health_bp
from chalicelib.ops.handlers import bp as ops_bp

app = Chalice(app_name="saas-backend")
observability.register(app)
app.register_blueprint(health_bp)
app.register_blueprint(ops_bp)
