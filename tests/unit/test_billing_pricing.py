"""Invoice arithmetic, with vectors worked out by hand from the contract's tier matrix."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.billing import pricing
from chalicelib.catalog.prices import MetricRate, Plan
from chalicelib.core import money
from chalicelib.core.periods import Period

STARTER = Plan(
    "starter",
    "Starter",
    D("2000.00"),
    (
        MetricRate("api_calls", "API calls", D(100000), D("0.002")),
        MetricRate("compliance_scans", "Compliance scans", D(500), D("1.50")),
    ),
)
GROWTH = Plan(
    "growth",
    "Growth",
    D("7500.00"),
    (
        MetricRate("api_calls", "API calls", D(1000000), D("0.0015")),
        MetricRate("compliance_scans", "Compliance scans", D(5000), D("1.00")),
    ),
)
ENTERPRISE = Plan(
    "enterprise",
    "Enterprise",
    D("25000.00"),
    (
        MetricRate("api_calls", "API calls", D(10000000), D("0.001")),
        MetricRate("compliance_scans", "Compliance scans", D(50000), D("0.50")),
    ),
)
OCT_2026 = Period(2026, 10)  # 31 days
LONG_AGO = date(2020, 1, 1)


def price(plan, api=0, scans=0, *, tax="0.08", start=LONG_AGO, period=OCT_2026):
    usage = {"api_calls": D(str(api)), "compliance_scans": D(str(scans))}
    return pricing.price_invoice(plan, usage, tax_rate=D(tax), period=period, billing_start=start)


def amounts(invoice):
    return (invoice.subtotal, invoice.discount, invoice.tax, invoice.total)


def test_starter_over_included_on_both_metrics():
    invoice = price(STARTER, api=150_000, scans=600)
    # 2000 + 50,000 x 0.002 + 100 x 1.50 = 2250.00; no discount; 8 % tax = 180.00
    assert [line.amount for line in invoice.lines] == [D("2000.00"), D("100.00"), D("150.00")]
    assert [line.quantity for line in invoice.lines[1:]] == [D(50000), D(100)]
    assert amounts(invoice) == (D("2250.00"), D("0.00"), D("180.00"), D("2430.00"))


@pytest.mark.parametrize("api,scans", [(0, 0), (50_000, 100), (100_000, 500)])
def test_starter_usage_within_included_is_base_fee_only(api, scans):
    invoice = price(STARTER, api=api, scans=scans)
    assert len(invoice.lines) == 1 and invoice.lines[0].metric_code is None
    assert amounts(invoice) == (D("2000.00"), D("0.00"), D("160.00"), D("2160.00"))


def test_growth_base_fee_alone_earns_the_discount():
    invoice = price(GROWTH, api=1_200_000, scans=5_500)
    # 7500 + 200,000 x 0.0015 (300.00) + 500 x 1.00 (500.00) = 8300.00
    # discount 415.00; tax 8 % of 7885.00 = 630.80
    assert amounts(invoice) == (D("8300.00"), D("415.00"), D("630.80"), D("8515.80"))


def test_enterprise_rounds_lines_discount_and_tax_half_up():
    invoice = price(ENTERPRISE, api=10_000_001, scans=50_003)
    # 1 x 0.001 = 0.001 -> 0.00; 3 x 0.50 = 1.50; subtotal 25001.50
    # discount 1250.075 -> 1250.08; tax 8 % of 23751.42 = 1900.1136 -> 1900.11
    assert [line.amount for line in invoice.lines] == [D("25000.00"), D("0.00"), D("1.50")]
    assert amounts(invoice) == (D("25001.50"), D("1250.08"), D("1900.11"), D("25651.53"))


def test_subtotal_of_exactly_5000_gets_no_discount():
    invoice = price(STARTER, scans=2_500)  # 2000 + 2000 x 1.50
    assert amounts(invoice) == (D("5000.00"), D("0.00"), D("400.00"), D("5400.00"))


def test_subtotal_of_5000_01_gets_the_discount():
    invoice = price(STARTER, api=100_005, scans=2_500)  # + 5 x 0.002 = 0.01
    # discount 250.0005 -> 250.00; tax 8 % of 4750.01 = 380.0008 -> 380.00
    assert amounts(invoice) == (D("5000.01"), D("250.00"), D("380.00"), D("5130.01"))


def test_discount_at_half_a_cent_rounds_up():
    invoice = price(STARTER, api=100_050, scans=2_500)  # subtotal 5000.10
    # 5 % = 250.005 -> 250.01 (banker's rounding would give 250.00)
    assert invoice.discount == D("250.01")
    assert invoice.tax == D("380.01")  # 8 % of 4750.09 = 380.0072
    assert invoice.total == D("5130.10")


def test_line_at_half_a_cent_rounds_up():
    invoice = price(STARTER, api="100002.5")  # 2.5 x 0.002 = 0.005
    assert invoice.lines[1].amount == D("0.01")


def test_tax_at_half_a_cent_rounds_up():
    invoice = price(STARTER, api=100_300, tax="0.075")  # subtotal 2000.60
    # 7.5 % of 2000.60 = 150.045 -> 150.05 (banker's rounding would give 150.04)
    assert amounts(invoice) == (D("2000.60"), D("0.00"), D("150.05"), D("2150.65"))


def test_tax_exempt_customer_pays_no_tax():
    invoice = price(STARTER, api=150_000, tax="0")
    assert amounts(invoice) == (D("2100.00"), D("0.00"), D("0.00"), D("2100.00"))


def test_mid_month_start_prorates_the_base_fee_by_days():
    invoice = price(STARTER, start=date(2026, 10, 15))
    # 17 of 31 days: 2000 x 17 / 31 = 1096.7741... -> 1096.77; tax 87.7416 -> 87.74
    base = invoice.lines[0]
    assert base.amount == D("1096.77") and base.quantity * base.unit_price == base.amount
    assert "17 of 31 days" in base.description
    assert amounts(invoice) == (D("1096.77"), D("0.00"), D("87.74"), D("1184.51"))


def test_proration_does_not_touch_usage():
    invoice = price(STARTER, api=150_000, start=date(2026, 10, 31))
    # 1 day: 2000 / 31 = 64.516... -> 64.52; usage 50,000 x 0.002 = 100.00 in full
    assert [line.amount for line in invoice.lines] == [D("64.52"), D("100.00")]


def test_prorated_growth_fee_can_fall_below_the_discount_threshold():
    invoice = price(GROWTH, start=date(2026, 10, 15))  # 7500 x 17 / 31 = 4112.903... -> 4112.90
    assert amounts(invoice)[:2] == (D("4112.90"), D("0.00"))


def test_start_on_the_first_or_before_is_a_full_month():
    assert price(STARTER, start=date(2026, 10, 1)).lines[0].amount == D("2000.00")
    assert price(STARTER, start=date(2025, 1, 31)).lines[0].amount == D("2000.00")


def test_customer_starting_after_the_period_is_not_billed():
    assert price(STARTER, start=date(2026, 11, 1)) is None


def test_leap_february_has_29_days():
    invoice = price(STARTER, start=date(2028, 2, 15), period=Period(2028, 2))
    assert invoice.lines[0].amount == D("1034.48")  # 2000 x 15 / 29 = 1034.4827...


def test_proration_half_cent_rounds_up_exactly():
    assert pricing.prorated_base_fee(D("0.10"), 1, 4) == D("0.03")  # 2.5 cents
    assert pricing.prorated_base_fee(D("0.06"), 1, 4) == D("0.02")  # 1.5 cents


def test_unit_prices_keep_their_precision_and_plain_strings_have_no_exponent():
    assert money.plain(D("0.001500")) == "0.0015"
    assert money.plain(D("100000.000000")) == "100000"
    assert money.plain(D("0E-6")) == "0"
    assert money.cents(D("2430.00")) == 243000


def test_absurd_usage_that_cannot_be_stored_is_refused():
    with pytest.raises(pricing.AmountOutOfRange):
        price(STARTER, scans=10**14)


quantities = st.decimals(min_value=0, max_value=10**11, places=6, allow_nan=False, allow_infinity=False)
tax_rates = st.decimals(min_value=0, max_value=D("0.9999"), places=4, allow_nan=False, allow_infinity=False)
starts = st.dates(min_value=date(2026, 9, 1), max_value=date(2026, 10, 31))


@settings(max_examples=300, deadline=None)
@given(
    plan=st.sampled_from([STARTER, GROWTH, ENTERPRISE]), api=quantities, scans=quantities, tax=tax_rates, start=starts
)
def test_total_identity_and_whole_cents_for_any_usage(plan, api, scans, tax, start):
    invoice = pricing.price_invoice(
        plan, {"api_calls": api, "compliance_scans": scans}, tax_rate=tax, period=OCT_2026, billing_start=start
    )
    assert invoice.total == invoice.subtotal - invoice.discount + invoice.tax
    assert invoice.subtotal == sum(line.amount for line in invoice.lines)
    for value in (
        invoice.subtotal,
        invoice.discount,
        invoice.tax,
        invoice.total,
        *(line.amount for line in invoice.lines),
    ):
        assert value == value.quantize(D("0.01")) and value >= 0
    assert (invoice.discount > 0) == (invoice.subtotal > D("5000.00") and invoice.subtotal * D("0.05") >= D("0.005"))
