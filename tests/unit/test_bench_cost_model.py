"""The cost table's arithmetic and the HTTP load's verdict (bench/cost_model.py, bench/http_bench.py): no timings."""

from __future__ import annotations

from bench import cost_model
from bench.http_bench import saturated

MEASURED = cost_model.Measured(
    app_cpu_ms=6.0,
    db_cpu_ms=3.0,
    bytes_per_event=230.0,
    wal_bytes_per_request=7000.0,
    blocks_read_per_request=0.01,
    source="test",
)


def test_small_platforms_sit_on_the_aurora_floor_and_large_ones_scale_past_it() -> None:
    a = cost_model.Assumptions()
    small = cost_model.monthly(10, MEASURED, a)
    large = cost_model.monthly(100_000, MEASURED, a)
    assert small["_acu"] == a.aurora_min_acu
    assert small["Aurora compute"] == a.aurora_instances * a.aurora_min_acu * cost_model.HOURS * a.acu_hour
    assert small["RDS Proxy"] == a.proxy_min_acu * cost_model.HOURS * a.proxy_acu_hour
    # 100,000 customers x 100,000 requests x 3 CPU-ms = 3e10 ms a month of PostgreSQL CPU.
    expected_acu = 100_000 * a.requests_per_customer * 3.0 / 1000 / cost_model.SECONDS / a.vcpu_per_acu / 0.5
    assert abs(large["_acu"] - expected_acu) < 1e-9
    assert large["RDS Proxy"] > small["RDS Proxy"]


def test_storage_is_events_kept_online_times_bytes_per_event() -> None:
    a = cost_model.Assumptions()
    line = cost_model.monthly(1_000, MEASURED, a)
    assert abs(line["_stored_gb"] - 1_000 * a.events_per_customer * a.retention_months * 230.0 / 1e9) < 1e-12


def test_lambda_bills_cpu_stretched_by_its_vcpu_share_plus_waiting() -> None:
    a = cost_model.Assumptions(lambda_memory_mb=1769, io_wait_ms=4.0)
    assert abs(cost_model.monthly(10, MEASURED, a)["_billed_ms"] - (6.0 + 4.0)) < 1e-9


def test_the_table_has_a_column_per_size_and_the_totals() -> None:
    text = cost_model.table(MEASURED, cost_model.Assumptions())
    header = text.splitlines()[0]
    assert all(f"{n:,} customers" in header for n in cost_model.CUSTOMERS)
    assert "**total / month**" in text
    assert "**per customer / month**" in text
    assert "requests_per_customer=100000" in cost_model.inputs(MEASURED, cost_model.Assumptions())


def _cpu(app: float, postgres: float, moto: float) -> dict:
    return {
        name: {"mean_pct_of_one_core": pct}
        for name, pct in {"app": app, "postgres": postgres, "moto": moto, "load generator": 5.0}.items()
    }


def test_one_python_process_is_judged_against_one_core_and_postgres_against_all() -> None:
    assert saturated(_cpu(app=95, postgres=150, moto=20), 80, cores=2).startswith("app: 95%")
    assert saturated(_cpu(app=40, postgres=190, moto=20), 80, cores=2).startswith("postgres: 95%")


def test_a_busy_machine_says_how_much_of_it_is_other_work() -> None:
    verdict = saturated(_cpu(app=40, postgres=20, moto=50), 95, cores=2)
    assert "95% busy" in verdict and "115% of one core is the stack" in verdict and "75% other work" in verdict
