"""All configuration of the service, read once from the environment (prefix ``PMS_``)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SUPPORTED_CURRENCIES = (
    "EUR", "USD", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "BRL", "MXN", "JPY", "INR", "ZAR", "TRY",
)  # fmt: skip

# External consumer groups (SPEC section 6) and the event types each takes (topic patterns).
DEFAULT_AMQP_CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    "crm": ("player.#", "kyc.#", "segment.#", "loyalty.#", "bonus.#"),
    "risk": ("player.#", "wallet.#", "bet.#", "kyc.#"),
    "analytics": ("#",),
}


class KycProviderSettings(BaseModel):
    base_url: str
    api_key: str
    callback_secret: str


class Settings(BaseSettings):
    """Settings of one PMS process. Every field can be set as ``PMS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PMS_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    log_level: str = "INFO"

    # --- storage and infrastructure -------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg:// URL; unset = embedded PostgreSQL under data_dir",
    )
    data_dir: Path = Path(".pms")
    database_pool_size: int = 10
    database_max_overflow: int = 20
    # Streaming replicas for read-only GraphQL queries (comma-separated URLs; README
    # "Workers and replicas"). Empty: every read goes to database_url.
    database_replica_urls: Annotated[tuple[str, ...], NoDecode] = ()
    database_replica_pool_size: int = 10
    database_replica_check_seconds: float = 2.0
    # A replica further behind the primary than this takes no reads until it catches up
    # (measured by the health check; 0 = no bound).
    replica_max_lag_seconds: float = Field(default=5.0, ge=0)
    # After a caller's mutation its queries read the primary this long (read-your-writes);
    # the mark is a Redis key when redis_url is set (shared by every process), else local.
    read_your_writes_seconds: float = Field(default=5.0, ge=0)
    redis_url: str | None = None
    amqp_url: str | None = None

    # --- HTTP server ---------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    # `pms serve` worker processes on one socket (pms/server.py Supervisor; README
    # "Workers and replicas").
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = 1024 * 1024
    run_background_tasks: bool = True

    # --- GraphQL limits (run as validation rules, so the caches keep them in force) -------
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_page_size: int = 100
    # Federation `_entities`: representations one request may resolve (each is a read).
    max_entity_representations: int = 100
    # Static cost: objects a document may ask for (list sizes multiplied through the
    # selection, aliases counted); lists without a size argument count this many items.
    max_query_cost: int = 10_000
    query_cost_default_list_size: int = 10
    document_cache_size: int = 1024
    # Apollo automatic persisted queries: documents kept by sha256 hash (LRU, this many;
    # 0 turns APQ off: clients are told PersistedQueryNotSupported and send full queries).
    persisted_queries_max: int = Field(default=1000, ge=0)

    # --- players -------------------------------------------------------------------------
    supported_currencies: tuple[str, ...] = DEFAULT_SUPPORTED_CURRENCIES
    min_age_default: int = 18
    min_age_by_country: dict[str, int] = Field(default_factory=lambda: {"US": 21, "EE": 21})
    password_min_length: int = 10
    password_max_length: int = 128
    # argon2id cost parameters (OWASP: m=19 MiB, t=2, p=1 is the floor; we default above it).
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 2

    # --- ledger --------------------------------------------------------------------------
    # Which wallets fund a bet, in order (the split is recorded on the hold).
    bet_funding_order: tuple[Literal["REAL", "BONUS"], ...] = ("REAL", "BONUS")
    hold_timeout_seconds: int = 30 * 60
    hold_expiry_interval_seconds: float = 30.0
    idempotency_retention_days: int = 30
    idempotency_purge_interval_seconds: float = 3600.0
    # The largest amount one money operation may move, in currency units (AmountTooLarge
    # above it); per-currency overrides for currencies of small unit value (JPY, KRW...).
    max_operation_amount: Decimal = Decimal("100000000")
    max_operation_amount_by_currency: dict[str, Decimal] = Field(default_factory=dict)
    # Group commit (app/ledger/coalesce.py): concurrent single bet operations of one
    # caller arriving while `ledger_coalesce_concurrency` of theirs are in flight queue and
    # run as one set-based batch of up to `ledger_coalesce_size` (one LOAD, APPLY, COMMIT).
    ledger_coalesce: bool = True
    ledger_coalesce_size: int = Field(default=16, ge=1, le=1000)
    ledger_coalesce_concurrency: int = Field(default=2, ge=1, le=64)
    # --- audit trail (issue 12): Merkle tree maintainer and signed checkpoints ----------
    audit_tree_interval_seconds: float = 2.0
    audit_tree_batch: int = 5000  # leaves sequenced per maintainer transaction
    audit_checkpoint_every_entries: int = 1000
    audit_checkpoint_every_seconds: float = 300.0
    # The checkpoint origin line and the signing key's name (C2SP signed note).
    audit_log_origin: str = "pms.example/audit"
    # Audit and ledger rows are kept this long (SPEC 5, AMLD art. 40): 5 years at least,
    # a lower value is refused when the settings load, so nothing starts with it.
    retention_years: int = Field(default=5, ge=5)
    # Published outbox rows are purged after this many days; the settlements a round
    # refund still reads back (bet.settled) are kept for the longer period.
    outbox_retention_days: float = Field(default=7.0, ge=1.0)
    outbox_round_refund_retention_days: float = Field(default=90.0, ge=1.0)
    outbox_purge_interval_seconds: float = 3600.0
    # GDPR: how often erased players' records past the AML retention (retention_years) go.
    gdpr_purge_interval_seconds: float = 3600.0
    # Monthly partitions of audit_log and ledger_transfers are made this many months
    # ahead; the purge archives months older than retention_years into this directory.
    retention_partitions_ahead_months: int = Field(default=3, ge=1)
    retention_partition_interval_seconds: float = 3600.0
    retention_purge_interval_seconds: float = 86400.0
    retention_archive_dir: str = ".pms/archive"
    outbox_purge_batch: int = 5000
    # --- realtime: subscriptions, outbox relay, event bus, webhooks, cache ---------------
    # Pub/sub channel name; on Redis it is prefixed with redis_key_prefix (see below).
    events_channel: str = "events"
    amqp_exchange: str = "pms.events"
    amqp_publish_timeout_seconds: float = 5.0
    outbox_poll_seconds: float = 0.05
    # LISTEN/NOTIFY wakes the relay right after a commit (app/events/wakeup.py); while the
    # LISTEN connection stands, the poll is only the fallback and runs this seldom.
    outbox_wakeup: bool = True
    outbox_listen_poll_seconds: float = 0.5
    outbox_batch_size: int = 200
    subscription_queue_size: int = 256
    # Identical subscriptions share one execution and encoding per event (app/events/
    # fanout.py); the LRU holds that many encoded payloads. False: each executes its own.
    subscription_shared_payloads: bool = True
    subscription_shared_payloads_max: int = Field(default=4096, ge=1)
    # A full GC pass once subscriptions stood still this long after a wave of connections,
    # instead of inside the next event's fan-out (app/events/gc_settle.py); 0: off.
    subscription_gc_settle_seconds: float = Field(default=2.0, ge=0)
    ws_max_message_bytes: int = 64 * 1024
    # A subscriber whose socket holds more unsent bytes than this (beyond the kernel's
    # buffer) is a slow consumer: dropped with 1013, as a full queue is (app/events/hub.py).
    ws_write_buffer_limit_bytes: int = Field(default=256 * 1024, ge=1)
    # permessage-deflate holds a zlib compressor and decompressor per connection (~40 KiB
    # of the server's memory each) for frames of a few hundred bytes; shared frames go
    # out uncompressed anyway (app/events/ws_direct.py). Off unless bandwidth matters more.
    ws_per_message_deflate: bool = False
    # The server's WebSocket pings (uvicorn's default is 20 s): each open socket costs a
    # timer, a frame each way and a parse per interval (500 a second at 10,000 sockets at
    # 20 s). 30 s stays under the usual 60 s idle timeout of load balancers.
    ws_ping_interval_seconds: float = Field(default=30.0, gt=0)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0)
    # walletBatch: operations per request (each keeps its own key and answer; one commit).
    wallet_batch_max_operations: int = Field(default=100, ge=1, le=1000)
    ws_max_subscriptions: int = 20
    webhook_max_attempts: int = 8
    webhook_backoff_base_seconds: float = 2.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_timeout_seconds: float = 10.0
    webhook_poll_seconds: float = 0.5
    # Loopback/private receivers are refused in prod; link-local/metadata always are.
    webhook_allow_private_targets: bool | None = None
    player_cache_ttl_seconds: int = 30
    # --- deployment namespace and broker topology (issue 17) ---------------------------
    # redis_key_prefix (PMS_REDIS_KEY_PREFIX, identity section) namespaces ALL Redis use of
    # one deployment: keys and the events pub/sub channel (pub/sub ignores the db number).
    # Durable queues declared at start-up per consumer group: {group: routing patterns}.
    amqp_consumer_groups: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_AMQP_CONSUMER_GROUPS)
    )
    amqp_delivery_limit: int = 20  # deliveries before a message goes to the dead queue

    # --- identity and access (app/identity) ----------------------------------------------
    token_issuer: str = "urn:pms"  # noqa: S105
    token_audience: str = "urn:pms:api"  # noqa: S105
    token_algorithm: Literal["ES256", "EdDSA"] = "ES256"  # noqa: S105
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    token_leeway_seconds: int = 30
    # Encrypts private key material and MFA secrets at rest (AES-256-GCM). Required in prod.
    secret_key: SecretStr | None = None
    redis_key_prefix: str = "pms:"
    login_max_failures_per_account: int = 5
    # A much higher ceiling than per account: one proxy or NAT carries many users, so the
    # per-ip bucket must not lock them all out after a few guesses (trusted proxies: README).
    login_max_failures_per_ip: int = 1000
    login_lockout_seconds: int = 900
    mfa_challenge_ttl_seconds: int = 300
    mfa_max_attempts: int = 5
    sms_code_ttl_seconds: int = 300
    sms_code_max_attempts: int = 3
    # SMS cost money and can be abused (SMS pumping): cap re-sends of one code and texts
    # to one number.
    sms_max_sends_per_code: int = 3
    sms_max_sends_per_phone_per_hour: int = 5
    sms_sender: str = Field(
        default="log",
        description="'log' (log + sms_outbox table; dev and test only: refused at startup in "
        "prod) or 'module:Class' of a gateway",
    )
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "PMS"
    webauthn_origins: tuple[str, ...] = ("http://localhost:8000",)
    max_directives_per_location: int = 5
    # How long this process trusts a revocation lookup (logout elsewhere lands within it).
    revocation_cache_seconds: float = 1.0
    # --- identity hardening (issue 10 items 7-12; README "Security") ------------------------
    # Open WebSocket subscriptions re-check their session this often (logout, status change).
    ws_session_check_seconds: float = 1.0
    # Second-factor failures per account, across challenges: past the limit the factor is
    # locked for base * 2^(n-1) seconds (capped) and an alert event is written.
    mfa_max_failures_per_account: int = 10
    mfa_failure_window_seconds: int = 24 * 3600
    mfa_lockout_base_seconds: int = 900
    mfa_lockout_max_seconds: int = 24 * 3600
    # SMS sends per account and per client ip (hourly), on top of the per-code/phone caps.
    sms_max_sends_per_account_per_hour: int = 5
    sms_max_sends_per_ip_per_hour: int = 30
    # Registrations per client ip per hour (each costs an argon2 hash).
    registrations_per_ip_per_hour: int = 20
    # Factor changes (another factor, new recovery codes) need a password + MFA sign-in
    # at most this old (the access token's auth_time).
    step_up_max_age_seconds: int = 600
    request_timeout_seconds: float = 10.0
    # --- KYC, profiles, segments (issue 6) -----------------------------------------------
    kyc_default_provider: str = "sandbox"
    # {name: {"base_url": ..., "api_key": ..., "callback_secret": ...}}; JSON in the env.
    kyc_providers: dict[str, KycProviderSettings] = Field(default_factory=dict)
    kyc_callback_max_age_seconds: int = 300
    kyc_provider_timeout_seconds: float = 10.0
    kyc_high_risk_countries: tuple[str, ...] = ("AF", "IR", "KP", "MM", "SY", "YE")
    # Keyed hash of document numbers (dedup without storing the number); set in prod.
    kyc_document_hash_key: str = "dev-only-document-hash-key"
    activity_active_days: int = 30
    activity_churned_days: int = 90
    segment_recompute_interval_seconds: float = 3600.0
    # Play-style metrics and segment membership follow bets and payments this far behind.
    playstyle_consume_interval_seconds: float = 5.0

    # --- CRM/ERP exports -----------------------------------------------------------------
    # Where `pms export` writes bundles unless told otherwise.
    export_dir: str = ".pms/exports"
    # How long an export waits for transactions that may still commit rows in its range.
    export_settle_timeout_seconds: float = 30.0
    # The GraphQL regulator export runs in the request: ranges up to this long (the CLI
    # takes any range).
    regulator_export_graphql_max_days: float = Field(default=31.0, gt=0)
    # Marketing-list imports larger than this are refused whole (CLI, GraphQL upload and
    # POST /imports; upload requests may exceed max_body_bytes by this much).
    import_max_bytes: int = 10 * 1024 * 1024
    # Players per batch of an import's apply: each batch is one transaction of set-based
    # statements (a crash leaves whole batches; a resumed confirmation skips them).
    import_batch_size: int = Field(default=2000, ge=1)
    # Periodic exports: {kind: seconds between runs}, e.g. '{"crm": 3600, "erp": 86400}'.
    # Each run starts from the cursor the previous one returned.
    export_schedule: dict[Literal["crm", "erp"], float] = Field(default_factory=dict)
    export_schedule_check_seconds: float = 60.0
    # Optional push of each bundle (manifest, signature, files) to an HTTP(S) endpoint,
    # signed like Standard Webhooks with export_push_secret; retried with backoff.
    export_push_url: str | None = None
    # validate_default: the check below also runs when the secret is left unset.
    export_push_secret: str | None = Field(default=None, validate_default=True)
    export_push_max_attempts: int = 5
    export_push_backoff_seconds: float = 2.0
    # Loopback/private push targets: refused unless this is on (tests, local receivers).
    export_push_allow_private: bool = False
    # --- background jobs (app/core/jobs.py): exports and imports started over the API ---
    job_poll_seconds: float = 2.0
    job_lease_seconds: float = 120.0
    job_progress_seconds: float = 1.0
    # --- anti-fraud (app/fraud): signals scored this far behind the commit ----------------
    fraud_consume_interval_seconds: float = 2.0
    # Risk score = the weights of the rules hit in this window, capped at 100.
    fraud_score_window_days: int = 30
    # A new player's bet-rate baseline (bets per active minute) before they have history.
    fraud_bet_rate_prior_per_minute: float = 4.0
    fraud_ewma_alpha: float = 0.2
    # Below this many bets in a minute, the rate ratio is not reported (noise).
    fraud_bet_rate_min_count: int = 12
    fraud_stake_min_history: int = 5
    fraud_win_rate_min_rounds: int = 50
    fraud_expected_rtp: float = 0.96
    fraud_velocity_window_seconds: int = 3600
    fraud_bonus_window_days: int = 7
    fraud_failed_login_window_seconds: int = 900
    fraud_rollback_window_seconds: int = 86400

    # --- bonuses and loyalty -------------------------------------------------------------
    bonus_game_categories: tuple[str, ...] = (
        "slots", "table", "live", "video_poker", "jackpot", "crash", "bingo",
    )  # fmt: skip
    bonus_default_game_category: str = "slots"
    bonus_expiry_interval_seconds: float = 60.0
    bonus_trigger_interval_seconds: float = 300.0  # birthday, turnover, VIP activation
    bonus_cashback_interval_seconds: float = 3600.0  # yesterday's cashback, idempotent
    # Loyalty points per 1 unit of stake (per currency), weighted by game category (%).
    loyalty_default_points_per_unit: int = 1
    loyalty_points_per_unit: dict[str, int] = Field(default_factory=lambda: {"JPY": 0})
    loyalty_category_percent: dict[str, int] = Field(
        default_factory=lambda: {"slots": 100, "table": 20, "live": 20, "video_poker": 20}
    )
    # (tier, points threshold) ascending; the first tier starts at 0.
    loyalty_tiers: tuple[tuple[str, int], ...] = (
        ("BRONZE", 0), ("SILVER", 1_000), ("GOLD", 10_000), ("PLATINUM", 50_000),
    )  # fmt: skip
    loyalty_tier_benefits: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "SILVER": ("5% weekly cashback",),
            "GOLD": ("10% weekly cashback", "priority withdrawals"),
            "PLATINUM": ("15% weekly cashback", "priority withdrawals", "personal manager"),
        }
    )

    # --- responsible gambling (app/responsible) ------------------------------------------
    # calendar: UTC day / ISO week / month; rolling: from the first activity, 1/7/30 days.
    rg_limit_window: Literal["calendar", "rolling"] = "calendar"
    rg_limit_cooldown_hours: float = 24.0  # before a raised or removed limit can be confirmed
    rg_break_end_interval_seconds: float = 60.0  # how often ended breaks are lifted
    # A play session ends after this long without a bet (session limits, reality checks).
    rg_session_break_minutes: float = 30.0
    rg_return_cooling_hours: float = 24.0  # after a self-exclusion: asked to return -> play
    rg_reality_check_minutes: float = 60.0  # how often the front end reminds the player
    # --- operations: start-up checks, key rotation, readiness (issue 17 items 1-3) --------
    # Previous PMS_SECRET_KEY values (JSON list): still open sealed data until
    # `pms keys reseal` has re-sealed everything under the current key.
    old_secret_keys: tuple[SecretStr, ...] = ()
    # A rotated-in JWT signing key is in the JWKS this long before it signs, so verifiers
    # that cache the JWKS know it first (>= their cache time + the key ring reload, 60 s).
    signing_key_prepublish_seconds: int = 600
    # Graceful shutdown: how long open HTTP requests may finish after SIGTERM.
    shutdown_timeout_seconds: float = 20.0
    # /readyz: how long each dependency (PostgreSQL, Redis, RabbitMQ) may take to answer.
    readiness_timeout_seconds: float = 2.0
    # --- observability (app/observability/; README "Observability") ---------------------
    # /metrics on the API port: open in dev/test; elsewhere only with this bearer token
    # (unset: 404 there; scrape metrics_port instead).
    metrics_token: SecretStr | None = None
    # A separate plain-HTTP port for /metrics, served by `pms serve` (keep it off the public
    # network); unset = none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); unset = no tracing
    # and nothing of OpenTelemetry imported. Needs the [otel] extra installed.
    otel_endpoint: str | None = None
    otel_service_name: str = "pms"
    log_format: Literal["text", "json"] = "text"
    # How often the analytics rollups catch up with committed events (app/analytics/).
    analytics_consume_interval_seconds: float = 5.0
    # The back-office dashboard at /admin (static files; it only calls the public API).
    admin_dashboard: bool = True
    # The longest date range an analytics query may cover, in days (README "Analytics").
    analytics_max_span_days: int = Field(default=366, ge=1, le=3660)
    # Figures are reported per currency and, converted with these rates, in this currency:
    # analytics_fx_rates maps a currency to the value of one unit of it in the reporting
    # currency (JSON {"USD": "0.92"}); a currency without a rate is left out of the
    # converted totals (and named in them), never guessed.
    analytics_reporting_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    analytics_fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    # Alert rules (app/alerts/): how often they are evaluated (and each process flushes its
    # counters), and how long the per-minute counters they read are kept.
    alert_evaluate_interval_seconds: float = Field(default=15.0, gt=0)
    alert_counter_retention_days: int = Field(default=35, ge=1)

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(u.strip() for u in value.split(",") if u.strip())
        return value

    @field_validator("export_push_secret")
    @classmethod
    def _push_needs_its_secret(cls, secret: str | None, info: ValidationInfo) -> str | None:
        """A push URL without its secret used to switch pushing off silently; receivers
        verify the signature, so an unsigned push is never what was meant."""
        if info.data.get("export_push_url") and not (secret or "").strip():
            raise ValueError(
                "required when PMS_EXPORT_PUSH_URL is set (bundles are pushed signed); "
                "set it, or unset PMS_EXPORT_PUSH_URL to turn pushing off"
            )
        return secret

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def webhooks_may_target_private(self) -> bool:
        if self.webhook_allow_private_targets is not None:
            return self.webhook_allow_private_targets
        return self.env != "prod"

    @property
    def redis_events_channel(self) -> str:
        return f"{self.redis_key_prefix}{self.events_channel}"

    def min_age_for(self, country: str) -> int:
        return self.min_age_by_country.get(country, self.min_age_default)


@lru_cache
def get_settings() -> Settings:
    return Settings()
