"""The SQL that opens the lake, and the redaction that keeps secrets out of it when printed.

`attach_statements` is the single source of that SQL: `connect` runs it in process and `accidents
lake attach-sql` prints it for the DuckDB CLI (with `getenv(...)` in place of secret values and the
DSN without its password, so nothing secret is ever printed). Text only: nothing here opens DuckDB.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.core.errors import AccidentsError
from pipeline.core.settings import Settings

LAKE_ALIAS = "lake"
SCHEMAS = ("bronze", "silver", "gold")
_EXTENSIONS_BY_CATALOG = {"sqlite": ("sqlite",), "duckdb": (), "postgres": ("postgres",)}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def required_extensions(settings: Settings) -> tuple[str, ...]:
    exts = ["ducklake", *_EXTENSIONS_BY_CATALOG[settings.catalog]]
    if settings.uses_s3:
        exts.append("httpfs")
    return tuple(exts)


def catalog_path(settings: Settings) -> Path:
    suffix = {"sqlite": "catalog.sqlite", "duckdb": "catalog.ducklake"}[settings.catalog]
    return (settings.lake_dir / suffix).resolve()


def attached_catalog(con) -> tuple[str | None, str | None]:
    """(the attached lake's catalog file, its PostgreSQL DSN): one of them, or (None, None) when no
    lake is attached to `con`."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [LAKE_ALIAS]).fetchone()
    path = row[0] if row else None
    if not path:
        return None, None
    if path.startswith(("postgres:", "postgresql:")):
        return None, path.split(":", 1)[1]
    return path.removeprefix("sqlite:"), None


# A password inside a libpq DSN: `password=...` (quoted or not), `user:pw@` in a URI, `?password=`.
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)|(://[^:/@\s]+:)([^@\s]+)(@)",
                           re.IGNORECASE)


def redact_dsn(dsn: str, replacement: str = "***") -> str:
    """The DSN with any password replaced, fit to print."""
    return _DSN_PASSWORD.sub(
        lambda m: f"{m[1]}{replacement}" if m[1] else f"{m[3]}{replacement}{m[5]}", dsn)


def without_password(dsn: str) -> str:
    """The DSN with its password removed (libpq then reads PGPASSWORD)."""
    stripped = _DSN_PASSWORD.sub(lambda m: "" if m[1] else f"{m[3].rsplit(':', 1)[0]}@", dsn)
    return re.sub(r"\s{2,}", " ", stripped).replace("?&", "?").strip().rstrip("?")


def _secrets_of(settings: Settings) -> list[str]:
    """Secret values that must never reach a message: S3 keys and a password in the DSN."""
    found = [settings.s3.secret_access_key or "", settings.s3.access_key_id or ""]
    for m in _DSN_PASSWORD.finditer(settings.postgres_dsn or ""):
        found.append((m[2] or m[4] or "").strip("'"))
    return [value for value in found if len(value) >= 3]


def scrub(settings: Settings, text: str) -> str:
    """`text` with every secret value of `settings` masked (errors may echo connection strings)."""
    for value in _secrets_of(settings):
        text = text.replace(value, "***")
    return text


def ducklake_uri(settings: Settings, *, redacted: bool = False, for_cli: bool = False) -> str:
    """`redacted` masks a DSN password (messages); `for_cli` drops it (libpq reads PGPASSWORD)."""
    if settings.catalog == "postgres":
        dsn = settings.postgres_dsn or ""
        if for_cli:
            dsn = without_password(dsn)
        elif redacted:
            dsn = redact_dsn(dsn)
        return f"ducklake:postgres:{dsn}"
    if settings.catalog == "sqlite":
        return f"ducklake:sqlite:{catalog_path(settings)}"
    return f"ducklake:{catalog_path(settings)}"


def _s3_secret(settings: Settings, for_cli: bool) -> str:
    s3 = settings.s3

    def secret(env_name: str, value: str | None) -> str:
        if for_cli:
            return f"getenv({_quote(env_name)})"
        if not value:
            raise AccidentsError(
                f"the lake's data path {settings.resolved_data_path} is on S3 but {env_name} is not set"
            )
        return _quote(value)

    options = [
        "TYPE s3",
        f"KEY_ID {secret('ACCIDENTS_S3_ACCESS_KEY_ID', s3.access_key_id)}",
        f"SECRET {secret('ACCIDENTS_S3_SECRET_ACCESS_KEY', s3.secret_access_key)}",
        f"REGION {_quote(s3.region)}",
        f"URL_STYLE {_quote(s3.url_style)}",
        f"USE_SSL {'true' if s3.use_ssl else 'false'}",
    ]
    if s3.endpoint:
        options.append(f"ENDPOINT {_quote(s3.endpoint)}")
    return f"CREATE OR REPLACE SECRET accidents_s3 ({', '.join(options)});"


def s3_endpoint_url(settings: Settings) -> str:
    """The S3 server, as a user would name it in a message."""
    s3 = settings.s3
    scheme = "https" if s3.use_ssl else "http"
    return f"{scheme}://{s3.endpoint}" if s3.endpoint else f"AWS S3 ({s3.region})"


def attach_statements(settings: Settings, *, read_only: bool = False, for_cli: bool = False) -> list[str]:
    """The SQL that opens the lake, in order. Secrets appear as getenv() calls when `for_cli`."""
    statements = [f"LOAD {ext};" for ext in required_extensions(settings)]
    if settings.uses_s3:
        statements.append(_s3_secret(settings, for_cli))
        statements.append(f"SET http_timeout = {int(settings.s3.timeout_seconds)};")
        statements.append(f"SET http_retries = {int(settings.s3.retries)};")
    if settings.catalog == "postgres":
        statements.append(f"SET ducklake_max_retry_count = {int(settings.retry_count)};")
    options = [f"DATA_PATH {_quote(settings.resolved_data_path)}"]
    # The default data path is derived from the data folder, which may have been moved or restored
    # elsewhere: it wins over the path the catalog recorded (file paths inside are relative to it).
    if settings.data_path is None or settings.override_data_path:
        options.append("OVERRIDE_DATA_PATH true")
    if read_only:
        options.append("READ_ONLY")
    statements.append(
        f"ATTACH {_quote(ducklake_uri(settings, for_cli=for_cli))} AS {LAKE_ALIAS} ({', '.join(options)});"
    )
    statements.append(f"USE {LAKE_ALIAS};")
    return statements
