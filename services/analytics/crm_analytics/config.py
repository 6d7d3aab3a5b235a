from pydantic import Field

from crm_shared.settings import ServiceSettings, service_config


class AnalyticsSettings(ServiceSettings):
    """Environment prefix CRM_ANALYTICS_ (e.g. CRM_ANALYTICS_DATABASE_URL, CRM_ANALYTICS_CLICKHOUSE_URL).

    The event store is ClickHouse: embedded (chDB, in this process, files under
    ``clickhouse_path``) while ``clickhouse_url`` is empty, else the ClickHouse server or cluster at
    that URL (http(s)://user:password@host:8123), through clickhouse-connect. Same tables and SQL."""

    model_config = service_config("ANALYTICS")

    service_name: str = "analytics"
    http_port: int = 8106
    grpc_enabled: bool = False  # no gRPC API: dashboards and exports are REST
    grpc_port: int = 50106
    clickhouse_url: str = Field("", repr=False)
    clickhouse_path: str = ""  # embedded: empty is <var_dir>/analytics-chdb
    var_dir: str = ""  # the run's var directory (`crm up` sets it); empty is the repository's var/
    clickhouse_database: str = "crm_analytics"
    # The ingest worker: every topic of the event catalogue, one consumer group, batches.
    ingest_enabled: bool = True
    ingest_group_id: str = "analytics.ingest"
    ingest_batch_size: int = Field(5000, ge=1)
    ingest_poll_ms: int = Field(200, ge=1)
    # Compaction: a partition of the records that has had no new part for compaction_quiet_s is
    # merged into one part (db/store.py compact), checked every compaction_interval_s.
    compaction_enabled: bool = True
    compaction_interval_s: float = Field(300.0, gt=0)
    compaction_quiet_s: float = Field(600.0, ge=0)
    # The scheduled monthly report of each region (XLSX) for the month before, written once to
    # <reports_dir>/<YYYY-MM>/ (empty: <var_dir>/analytics-reports); checked this often.
    monthly_reports_enabled: bool = True
    reports_dir: str = ""
    reports_check_interval_s: float = Field(3600.0, gt=0)
