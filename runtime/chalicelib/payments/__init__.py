"""Card payments through Stripe: payment methods, charging finalized invoices, dunning, Stripe's webhooks."""
