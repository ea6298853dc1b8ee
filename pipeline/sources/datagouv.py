"""BAAC files from data.gouv.fr: discover them through the dataset API, download them into a cache.

Resource ids and URLs change with every yearly release, so nothing is hard-coded but the dataset:
`GET {api}/datasets/{dataset}/` (API v1) lists every resource with its url, checksum and
last_modified, and file names are classified with `baac_files.classify_filename`.

The cache folder holds the files under their published names plus `manifest.json` (url, resource
id, size, sha256, downloaded_at, last_modified, published checksum per file). A cached file is
reused without any request for it when its entry still matches the resource and its bytes still
match the entry; the cache folder is itself a valid `--source DIR` mirror folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import requests

from pipeline.core.errors import AccidentsError
from pipeline.sources import http
from pipeline.sources.baac_files import KINDS, BaacFileSet, classify_filename, format_years

# The dataset's id. Its slug is renamed at each release ("...-annees-de-2005-a-2023" became
# "...-annees-de-2005-a-2024"), the id never is; the API accepts either.
DEFAULT_SLUG = "53698f4ca3a729239d2036df"
CURRENT_SLUG = (
    "bases-de-donnees-annuelles-des-accidents-corporels-de-la-circulation-routiere-annees-de-2005-a-2024"
)
MANIFEST_NAME = "manifest.json"
OFFLINE_HINT = "(use --source demo or --source DIR for offline work)"

# data.gouv.fr checksum types (sha1 is its default) -> hashlib name; others (crc) are not verified.
_HASHLIB_NAMES = {"sha1": "sha1", "sha256": "sha256", "sha2": "sha256", "md5": "md5"}


@dataclass(frozen=True)
class Resource:
    """One published BAAC CSV file, as the dataset API describes it."""

    id: str
    kind: str
    year: int
    title: str
    url: str
    filename: str  # local file name: the published one when it is recognisable
    format: str | None
    filesize: int | None
    checksum_type: str | None
    checksum_value: str | None
    last_modified: str | None

    @property
    def verifiable_checksum(self) -> tuple[str, str] | None:
        algorithm = _HASHLIB_NAMES.get((self.checksum_type or "").lower())
        if algorithm is None or not self.checksum_value:
            return None
        if algorithm == "sha256" and len(self.checksum_value) != 64:
            return None  # 'sha2' without a 256-bit digest: unknown variant, do not guess
        return algorithm, self.checksum_value


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "accidents-pipeline (BAAC downloader)"
    return session


def _dataset_url(api_base: str, dataset_slug: str) -> str:
    return f"{api_base.rstrip('/')}/datasets/{dataset_slug}/"


def _fetch_dataset(
    session: requests.Session,
    api_base: str,
    dataset_slug: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> list[dict]:
    url = _dataset_url(api_base, dataset_slug)
    try:
        response = http.get(session, url, timeout=timeout, retries=retries, backoff=backoff)
    except http.UnreachableError as exc:
        raise AccidentsError(
            f"cannot reach data.gouv.fr API at {url}: {exc.reason} {OFFLINE_HINT}"
        ) from None
    if response.status_code == 404:
        raise AccidentsError(
            f"data.gouv.fr dataset {dataset_slug!r} not found (HTTP 404 from {url}); "
            f"check the dataset slug or id (default {DEFAULT_SLUG})"
        )
    if response.status_code != 200:
        raise AccidentsError(
            f"data.gouv.fr API at {url} answered HTTP {response.status_code} {response.reason}"
        )
    try:
        payload = response.json()
    except ValueError:
        raise AccidentsError(f"data.gouv.fr API at {url} did not answer JSON") from None
    resources = payload.get("resources") if isinstance(payload, dict) else None
    if not isinstance(resources, list):
        raise AccidentsError(
            f"data.gouv.fr API at {url}: no 'resources' list in the answer "
            "(expected API v1, e.g. https://www.data.gouv.fr/api/1)"
        )
    return [r for r in resources if isinstance(r, dict)]


def _classify_resource(raw: dict) -> Resource | None:
    url = str(raw.get("url") or "")
    title = str(raw.get("title") or "")
    fmt = raw.get("format")
    published_name = unquote(PurePosixPath(urlparse(url).path).name)
    key = classify_filename(published_name)
    filename = published_name
    if key is None and str(fmt or "").lower() == "csv":  # e.g. a /datasets/r/<id> url: trust the title
        key = classify_filename(title) or classify_filename(f"{title}.csv")
        if key is not None:
            filename = f"{key[0]}-{key[1]}.csv"
    if key is None or not url:
        return None
    checksum = raw.get("checksum") if isinstance(raw.get("checksum"), dict) else {}
    filesize = raw.get("filesize")
    return Resource(
        id=str(raw.get("id") or ""),
        kind=key[0],
        year=key[1],
        title=title,
        url=url,
        filename=filename,
        format=fmt,
        filesize=filesize if isinstance(filesize, int) and filesize > 0 else None,
        checksum_type=checksum.get("type"),
        checksum_value=checksum.get("value"),
        last_modified=raw.get("last_modified"),
    )


def _group(raw_resources: list[dict]) -> dict[int, dict[str, list[Resource]]]:
    grouped: dict[int, dict[str, list[Resource]]] = {}
    for raw in raw_resources:
        resource = _classify_resource(raw)
        if resource is not None:
            grouped.setdefault(resource.year, {}).setdefault(resource.kind, []).append(resource)
    return grouped


def _complete_years(grouped: dict[int, dict[str, list[Resource]]]) -> list[int]:
    return sorted(year for year, kinds in grouped.items() if all(kinds.get(k) for k in KINDS))


def _select(
    grouped: dict[int, dict[str, list[Resource]]], years: Sequence[int], dataset_slug: str
) -> dict[int, dict[str, Resource]]:
    available = format_years(_complete_years(grouped))
    selected: dict[int, dict[str, Resource]] = {}
    for year in sorted(set(years)):
        kinds = grouped.get(year)
        if not kinds:
            raise AccidentsError(
                f"BAAC year {year} is not published in data.gouv.fr dataset {dataset_slug!r} "
                f"(years available: {available})"
            )
        missing = [k for k in KINDS if not kinds.get(k)]
        if missing:
            raise AccidentsError(
                f"data.gouv.fr dataset {dataset_slug!r}: year {year} has no {', '.join(missing)} file "
                f"(years complete: {available})"
            )
        for kind in KINDS:
            if len(kinds[kind]) > 1:
                both = " and ".join(f"{r.title!r} ({r.url})" for r in kinds[kind])
                raise AccidentsError(
                    f"data.gouv.fr dataset {dataset_slug!r}: several {kind} files for {year}: {both}"
                )
        selected[year] = {kind: kinds[kind][0] for kind in KINDS}
    return selected


def discover_resources(
    api_base: str,
    dataset_slug: str,
    years: Sequence[int],
    *,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 0.5,
    session: requests.Session | None = None,
) -> dict[int, dict[str, Resource]]:
    """{year: {kind: Resource}} for every requested year; AccidentsError for a year not published."""
    # A caller's session is lent, not closed.
    with _new_session() if session is None else nullcontext(session) as active:
        raw = _fetch_dataset(
            active, api_base, dataset_slug, timeout=timeout, retries=retries, backoff=backoff
        )
    return _select(_group(raw), years, dataset_slug)


def list_published_years(
    api_base: str,
    dataset_slug: str = DEFAULT_SLUG,
    timeout: float = 30,
    *,
    retries: int = 4,
    backoff: float = 0.5,
) -> list[int]:
    """Years for which the dataset publishes all four BAAC files (sorted)."""
    with _new_session() as session:
        raw = _fetch_dataset(
            session, api_base, dataset_slug, timeout=timeout, retries=retries, backoff=backoff
        )
    return _complete_years(_group(raw))


# --- cache -------------------------------------------------------------------------------------


def _read_manifest(cache_dir: Path) -> dict[str, dict]:
    try:
        data = json.loads((cache_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or damaged: a cache rebuilds itself, every file gets re-verified
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def _write_manifest(cache_dir: Path, files: dict[str, dict]) -> None:
    text = json.dumps({"version": 1, "files": dict(sorted(files.items()))}, indent=2, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", suffix=".part", dir=cache_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        os.replace(tmp, cache_dir / MANIFEST_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _published_checksum(resource: Resource) -> dict | None:
    if resource.checksum_type and resource.checksum_value:
        return {"type": resource.checksum_type, "value": resource.checksum_value}
    return None


def _is_fresh(entry: dict | None, resource: Resource, path: Path) -> bool:
    """True when the cached file is this very resource, byte for byte as recorded."""
    if not entry or entry.get("url") != resource.url or entry.get("resource_id") != resource.id:
        return False
    published = _published_checksum(resource)
    if published is not None and entry.get("checksum") != published:
        return False
    if resource.last_modified is not None and entry.get("last_modified") != resource.last_modified:
        return False
    if not path.is_file() or path.stat().st_size != entry.get("size"):
        return False
    return http.file_sha256(path) == entry.get("sha256")


def _drop_stale_copies(cache_dir: Path, manifest: dict[str, dict], resource: Resource) -> None:
    """Remove older cached files of the same kind+year under another name (a renamed upload), so the
    cache folder never holds two candidates for one table."""
    for path in cache_dir.iterdir():
        same_table = classify_filename(path.name) == (resource.kind, resource.year)
        if same_table and path.name != resource.filename:
            path.unlink(missing_ok=True)
            manifest.pop(path.name, None)


def download_year_files(
    api_base: str,
    years: Sequence[int],
    cache_dir: Path,
    *,
    dataset_slug: str = DEFAULT_SLUG,
    timeout: float = 30,
    retries: int = 4,
    backoff: float = 0.5,
    progress: bool = True,
) -> list[BaacFileSet]:
    """The four BAAC files of each requested year, downloaded into `cache_dir` or reused from it."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _new_session() as session:
        selected = discover_resources(
            api_base,
            dataset_slug,
            years,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            session=session,
        )
        sets = []
        for year, resources in selected.items():
            files = {}
            for kind in KINDS:
                files[kind] = _ensure_cached(
                    session,
                    resources[kind],
                    cache_dir,
                    timeout=timeout,
                    retries=retries,
                    backoff=backoff,
                    progress=progress,
                )
            sets.append(BaacFileSet(year, files))
    return sets


def _ensure_cached(
    session: requests.Session,
    resource: Resource,
    cache_dir: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    progress: bool,
) -> Path:
    path = cache_dir / resource.filename
    if _is_fresh(_read_manifest(cache_dir).get(resource.filename), resource, path):
        return path
    try:
        done = http.download(
            session,
            resource.url,
            path,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            expected=resource.verifiable_checksum,
            total=resource.filesize,
            progress=progress,
        )
    except http.UnreachableError as exc:
        raise AccidentsError(
            f"cannot download {resource.filename} from {resource.url}: {exc.reason} {OFFLINE_HINT}"
        ) from None
    # Re-read just before writing: another process may have recorded other files meanwhile.
    manifest = _read_manifest(cache_dir)
    _drop_stale_copies(cache_dir, manifest, resource)
    manifest[resource.filename] = {
        "kind": resource.kind,
        "year": resource.year,
        "url": resource.url,
        "resource_id": resource.id,
        "title": resource.title,
        "size": done.size,
        "sha256": done.sha256,
        "checksum": _published_checksum(resource),
        "last_modified": resource.last_modified,
        "downloaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    _write_manifest(cache_dir, manifest)
    return path
