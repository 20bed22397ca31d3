"""Usage metering: ingesting usage events and reading a month's usage."""
