"""Usage alerts: thresholds per metric, each firing once a month when the month's usage reaches it."""
