"""The catalog: tiers, what they cost and which features and limits they grant.

Catalog data (``tiers``, ``tier_prices``, ``tier_features``) belongs to no
tenant. Every area that needs a tier's prices, features or limits (customers,
keys, rate limiting, metering, billing) reads them through here.
"""
