-- The tier matrix from API_REFERENCE.md ("Pricing") and the feature matrix.
INSERT INTO metrics (code, name, unit) VALUES
    ('api_calls', 'API calls', 'call'),
    ('compliance_scans', 'Compliance scans', 'scan');

INSERT INTO tiers (code, name, base_fee, sort_order) VALUES
    ('starter', 'Starter', 2000.00, 1),
    ('growth', 'Growth', 7500.00, 2),
    ('enterprise', 'Enterprise', 25000.00, 3);

INSERT INTO tier_prices (tier_code, metric_code, included_units, unit_price) VALUES
    ('starter', 'api_calls', 100000, 0.002),
    ('starter', 'compliance_scans', 500, 1.50),
    ('growth', 'api_calls', 1000000, 0.0015),
    ('growth', 'compliance_scans', 5000, 1.00),
    ('enterprise', 'api_calls', 10000000, 0.001),
    ('enterprise', 'compliance_scans', 50000, 0.50);

INSERT INTO tier_features (tier_code, feature, value) VALUES
    ('starter', 'sso', 'false'),
    ('starter', 'audit_export', 'false'),
    ('starter', 'support_level', '"standard"'),
    ('starter', 'max_api_keys', '5'),
    ('starter', 'rate_limit_per_second', '10'),
    ('starter', 'rate_limit_burst', '20'),
    ('starter', 'daily_request_quota', '100000'),
    ('growth', 'sso', 'true'),
    ('growth', 'audit_export', 'false'),
    ('growth', 'support_level', '"priority"'),
    ('growth', 'max_api_keys', '25'),
    ('growth', 'rate_limit_per_second', '50'),
    ('growth', 'rate_limit_burst', '100'),
    ('growth', 'daily_request_quota', '1000000'),
    ('enterprise', 'sso', 'true'),
    ('enterprise', 'audit_export', 'true'),
    ('enterprise', 'support_level', '"dedicated"'),
    ('enterprise', 'max_api_keys', '100'),
    ('enterprise', 'rate_limit_per_second', '200'),
    ('enterprise', 'rate_limit_burst', '400'),
    ('enterprise', 'daily_request_quota', '10000000');
