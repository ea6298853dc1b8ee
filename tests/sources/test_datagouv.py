"""data.gouv.fr discovery and download, against a local server replaying the recorded API answer."""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.sources import datagouv
from pipeline.sources.baac_files import KINDS, classify_filename
from pipeline.sources.datagouv import (
    DEFAULT_SLUG,
    MANIFEST_NAME,
    discover_resources,
    download_year_files,
    list_published_years,
)
from pipeline.sources.mirror import find_year_files
from tests.support.net import free_port

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datagouv"
STATIC = "https://static.data.gouv.fr"
FAST = {"timeout": 2, "retries": 3, "backoff": 0.01, "progress": False}

HEADERS = {
    "caracteristiques": "Num_Acc;jour;mois;an;hrmn;lum;dep;com;agg;int;atm;col;adr;lat;long",
    "lieux": "Num_Acc;catr;voie;v1;v2;circ;nbv;vosp;prof;pr;pr1;plan;lartpc;larrout;surf;infra;situ;vma",
    "vehicules": "Num_Acc;id_vehicule;num_veh;senc;catv;obs;obsm;choc;manv;motor;occutc",
    "usagers": "Num_Acc;id_vehicule;num_veh;place;catu;grav;sexe;an_nais;trajet;secu1;secu2;secu3;locp;actp;etatp",
}


def baac_csv(kind: str, year: int) -> bytes:
    """A small file shaped like the published ones: quoted ';' fields, decimal commas, 988 rows."""
    header = HEADERS[kind]
    if kind == "caracteristiques" and year == 2022:
        header = header.replace("Num_Acc", "Accident_Id")
    lines = ['"' + '";"'.join(header.split(";")) + '"']
    for n in range(1, 4):
        acc = f"{year}00056{n:03d}"
        row = {
            "caracteristiques": [acc, str(n), "01", str(year), "20:55", "5", "988", "98805", "1", "1", "2",
                                 "6", "VE2", f" -22,22{n}", "166,468"],
            "lieux": [acc, "9", "VE2", " -1", "N/A", "1", "2", "0", "1", "0", "100", "3", "", " -1", "2",
                      "0", "1", "70"],
            "vehicules": [acc, f"100\u00a089{n}", "A01", "0", "10", "4", "0", "0", "1", "1", ""],
            "usagers": [acc, f"100\u00a089{n}", "A01", "1", "1", "3", "1", "1989", "5", "0", " -1", " -1",
                        "0", "0", " -1"],
        }[kind]
        lines.append('"' + '";"'.join(row) + '"')
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


class FakeDataGouv:
    """data.gouv.fr on 127.0.0.1: the dataset API plus static.data.gouv.fr file downloads."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.failures: dict[str, list[int]] = {}  # path -> statuses to answer before serving it
        self.files: dict[str, bytes] = {}  # path -> body
        self.truncated: dict[str, int] = {}  # path -> how many answers stop half-way
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_base = f"{self.base}/api/1"
        self.dataset = self._publish(json.loads((FIXTURES / "dataset.json").read_text(encoding="utf-8")))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def _publish(self, dataset: dict) -> dict:
        """Point the recorded URLs here and give each BAAC resource a generated file and its checksum."""
        for resource in dataset["resources"]:
            resource["url"] = resource["url"].replace(STATIC, f"{self.base}/static")
            key = classify_filename(resource["url"].rsplit("/", 1)[1])
            if key is None:
                continue
            body = baac_csv(*key)
            self.files[resource["url"][len(self.base):]] = body
            resource["filesize"] = len(body)
            if resource["checksum"]:
                algorithm = {"sha1": "sha1", "sha256": "sha256", "md5": "md5"}[resource["checksum"]["type"]]
                resource["checksum"]["value"] = hashlib.new(algorithm, body).hexdigest()
        return dataset

    def resource(self, filename: str) -> dict:
        return next(r for r in self.dataset["resources"] if r["url"].endswith("/" + filename))

    def path_of(self, filename: str) -> str:
        return self.resource(filename)["url"][len(self.base):]

    def file_requests(self) -> list[str]:
        return [p for p in self.requests if p.startswith("/static/")]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                pending = fake.failures.get(self.path)
                if pending:
                    self._send(pending.pop(0), b"try later", "text/plain")
                    return
                dataset_paths = {f"/api/1/datasets/{fake.dataset[k]}/" for k in ("id", "slug")}
                if self.path in dataset_paths:
                    self._send(200, json.dumps(fake.dataset).encode(), "application/json")
                elif self.path.startswith("/api/1/"):
                    self._send(404, (FIXTURES / "not_found.json").read_bytes(), "application/json")
                elif fake.truncated.get(self.path):
                    fake.truncated[self.path] -= 1
                    body = fake.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])  # then HTTP/1.0 closes the connection
                elif self.path in fake.files:
                    self._send(200, fake.files[self.path], "text/csv")
                else:
                    self._send(404, b"not found", "text/plain")

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    fake = FakeDataGouv()
    yield fake
    fake.close()


def test_discovery_matches_every_published_spelling(site):
    found = discover_resources(site.api_base, DEFAULT_SLUG, [2017, 2021, 2022, 2023], timeout=2)

    assert sorted(found) == [2017, 2021, 2022, 2023]
    assert {year: found[year]["caracteristiques"].filename for year in found} == {
        2017: "caracteristiques_2017.csv",
        2021: "carcteristiques-2021.csv",
        2022: "carcteristiques-2022.csv",
        2023: "caract-2023.csv",
    }
    assert found[2017]["vehicules"].filename == "vehicules_2017.csv"
    # The registered-vehicles file of the same dataset is another table, never the vehicules one.
    assert found[2022]["vehicules"].filename == "vehicules-2022.csv"
    lieux = found[2021]["lieux"]
    recorded = site.resource("lieux-2021.csv")
    assert (lieux.id, lieux.url, lieux.last_modified) == (recorded["id"], recorded["url"], recorded["last_modified"])
    assert lieux.verifiable_checksum == ("sha256", recorded["checksum"]["value"])
    assert found[2017]["usagers"].verifiable_checksum is None  # published without a checksum


def test_dataset_is_found_by_slug_as_well_as_by_id(site):
    found = discover_resources(site.api_base, datagouv.CURRENT_SLUG, [2018], timeout=2)
    assert sorted(r.filename for r in found[2018].values()) == [
        "caracteristiques-2018.csv", "lieux-2018.csv", "usagers-2018.csv", "vehicules-2018.csv"]


def test_published_years_are_those_with_all_four_files(site):
    # 2024 lacks its lieux file in the recording (release in progress).
    assert list_published_years(site.api_base, DEFAULT_SLUG, 2) == [2017, 2018, 2021, 2022, 2023]


def test_year_not_published_lists_the_available_years(site):
    with pytest.raises(AccidentsError, match=r"2030 is not published .*years available: 2017-2018, 2021-2023"):
        discover_resources(site.api_base, DEFAULT_SLUG, [2021, 2030], timeout=2)


def test_incomplete_year_names_the_missing_file(site):
    with pytest.raises(AccidentsError, match=r"year 2024 has no lieux file"):
        download_year_files(site.api_base, [2024], Path("unused"), **FAST)
    assert site.file_requests() == []


def test_unknown_dataset_names_the_slug(site, tmp_path):
    with pytest.raises(AccidentsError, match=r"dataset 'no-such-dataset' not found \(HTTP 404"):
        download_year_files(site.api_base, [2021], tmp_path, dataset_slug="no-such-dataset", **FAST)


def test_download_writes_files_and_manifest(site, tmp_path):
    sets = download_year_files(site.api_base, [2022, 2021], tmp_path, **FAST)

    assert [s.year for s in sets] == [2021, 2022]
    assert sets[1].files["caracteristiques"] == tmp_path / "carcteristiques-2022.csv"
    for file_set in sets:
        assert list(file_set.files) == list(KINDS)
        for kind, path in file_set.files.items():
            assert path.read_bytes() == baac_csv(kind, file_set.year)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())["files"]
    assert len(manifest) == 8
    entry = manifest["lieux-2021.csv"]
    body = baac_csv("lieux", 2021)
    recorded = site.resource("lieux-2021.csv")
    assert entry["url"] == recorded["url"]
    assert entry["resource_id"] == recorded["id"]
    assert entry["last_modified"] == recorded["last_modified"]
    assert entry["checksum"] == {"type": "sha256", "value": hashlib.sha256(body).hexdigest()}
    assert (entry["size"], entry["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert entry["downloaded_at"].endswith("+00:00")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    # The cache is itself a mirror folder.
    assert find_year_files(tmp_path, [2021, 2022]) == sets


def test_second_call_reuses_the_cache_without_file_requests(site, tmp_path):
    first = download_year_files(site.api_base, [2021, 2022], tmp_path, **FAST)
    assert len(site.file_requests()) == 8
    site.requests.clear()

    second = download_year_files(site.api_base, [2021, 2022], tmp_path, **FAST)

    assert second == first
    assert site.requests == [f"/api/1/datasets/{DEFAULT_SLUG}/"]


def test_corrupted_cache_file_is_downloaded_again(site, tmp_path):
    download_year_files(site.api_base, [2021], tmp_path, **FAST)
    damaged = tmp_path / "usagers-2021.csv"
    good = damaged.read_bytes()
    damaged.write_bytes(good.replace(b"1989", b"1999"))  # same size, other bytes
    site.requests.clear()

    download_year_files(site.api_base, [2021], tmp_path, **FAST)

    assert site.file_requests() == [site.path_of("usagers-2021.csv")]
    assert damaged.read_bytes() == good


def test_resource_updated_upstream_is_downloaded_again(site, tmp_path):
    download_year_files(site.api_base, [2021], tmp_path, **FAST)
    site.resource("vehicules-2021.csv")["last_modified"] = "2026-01-15T09:00:00.000000+00:00"
    site.requests.clear()

    download_year_files(site.api_base, [2021], tmp_path, **FAST)

    assert site.file_requests() == [site.path_of("vehicules-2021.csv")]
    entry = json.loads((tmp_path / MANIFEST_NAME).read_text())["files"]["vehicules-2021.csv"]
    assert entry["last_modified"] == "2026-01-15T09:00:00.000000+00:00"


def test_checksum_mismatch_raises_and_keeps_nothing(site, tmp_path):
    site.resource("carcteristiques-2022.csv")["checksum"]["value"] = "0" * 40

    with pytest.raises(AccidentsError, match=r"carcteristiques-2022\.csv .*sha1 checksum .* does not match"):
        download_year_files(site.api_base, [2022], tmp_path, **FAST)

    assert not (tmp_path / "carcteristiques-2022.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())["files"] if (tmp_path / MANIFEST_NAME).exists() else {}
    assert "carcteristiques-2022.csv" not in manifest


def test_transient_errors_are_retried(site, tmp_path):
    site.failures[f"/api/1/datasets/{DEFAULT_SLUG}/"] = [502]
    lieux = site.path_of("lieux-2023.csv")
    site.failures[lieux] = [503, 503]

    sets = download_year_files(site.api_base, [2023], tmp_path, **FAST)

    assert site.requests.count(lieux) == 3
    assert sets[0].files["lieux"].read_bytes() == baac_csv("lieux", 2023)


def test_transfer_cut_half_way_is_retried_from_scratch(site, tmp_path):
    usagers = site.path_of("usagers-2022.csv")
    site.truncated[usagers] = 1

    sets = download_year_files(site.api_base, [2022], tmp_path, **FAST)

    assert site.requests.count(usagers) == 2
    assert sets[0].files["usagers"].read_bytes() == baac_csv("usagers", 2022)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_persistent_server_errors_give_up_with_the_status(site, tmp_path):
    site.failures[site.path_of("lieux-2023.csv")] = [503] * 10

    with pytest.raises(AccidentsError, match=r"cannot download lieux-2023\.csv .*HTTP 503"):
        download_year_files(site.api_base, [2023], tmp_path, **{**FAST, "retries": 2})


def test_missing_file_is_a_clear_error(site, tmp_path):
    del site.files[site.path_of("usagers-2018.csv")]

    with pytest.raises(AccidentsError, match=r"download of .*usagers-2018\.csv failed: HTTP 404"):
        download_year_files(site.api_base, [2018], tmp_path, **FAST)


def test_unreachable_api_fails_fast_with_an_offline_hint(tmp_path):
    port = free_port()  # nothing listens there
    start = time.monotonic()

    with pytest.raises(AccidentsError) as error:
        download_year_files(f"http://127.0.0.1:{port}/api/1", [2021], tmp_path,
                            timeout=1, retries=1, backoff=0.01, progress=False)

    message = str(error.value)
    assert message.startswith(f"cannot reach data.gouv.fr API at http://127.0.0.1:{port}/api/1/datasets/")
    assert "refused" in message.lower()
    assert "--source demo" in message and "\n" not in message
    assert time.monotonic() - start < 3


def test_progress_bar_goes_to_stderr(site, tmp_path, capsys):
    download_year_files(site.api_base, [2018], tmp_path, timeout=2, retries=0, backoff=0.01, progress=True)
    captured = capsys.readouterr()
    assert "lieux-2018.csv" in captured.err
    assert captured.out == ""


def test_renamed_upload_replaces_the_older_cached_copy(site, tmp_path):
    download_year_files(site.api_base, [2023], tmp_path, **FAST)
    resource = site.resource("caract-2023.csv")
    new_url = resource["url"].replace("caract-2023.csv", "caracteristiques-2023.csv")
    site.files[new_url[len(site.base):]] = site.files[site.path_of("caract-2023.csv")]
    resource["url"] = new_url

    sets = download_year_files(site.api_base, [2023], tmp_path, **FAST)

    assert sets[0].files["caracteristiques"].name == "caracteristiques-2023.csv"
    assert not (tmp_path / "caract-2023.csv").exists()
    assert find_year_files(tmp_path, [2023]) == sets


def test_resource_without_file_name_in_url_is_classified_by_title():
    raw = copy.deepcopy(json.loads((FIXTURES / "dataset.json").read_text(encoding="utf-8"))["resources"][1])
    raw["url"] = f"https://www.data.gouv.fr/api/1/datasets/r/{raw['id']}"
    raw["title"] = "Caract_2024"
    resource = datagouv._classify_resource(raw)
    assert (resource.kind, resource.year, resource.filename) == ("caracteristiques", 2024, "caracteristiques-2024.csv")
    raw["format"] = "zip"
    assert datagouv._classify_resource(raw) is None


def test_silent_server_times_out_with_a_clear_reason(tmp_path):
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(AccidentsError, match=r"cannot reach data\.gouv\.fr API at .*: timed out after 0\.3 s"):
            list_published_years(f"http://127.0.0.1:{port}/api/1", DEFAULT_SLUG, 0.3, retries=1, backoff=0.01)
