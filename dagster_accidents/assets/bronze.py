"""Bronze: BAAC files -> raw/accidents/rejected tables (one partition per year), OSM -> roads."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.metadata import summary_metadata, table_metadata
from dagster_accidents.partitions import baac_years
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource

INGEST_TABLES = {
    "raw_caracteristiques": "Every caracteristiques row as text, with file/line.",
    "raw_lieux": "Every lieux row as text, with file/line.",
    "raw_vehicules": "Every vehicules row as text, with file/line.",
    "raw_usagers": "Every usagers row as text, with file/line.",
    "accidents": "One normalised row per accident (local event_time, lat/lon, atm, ...).",
    "rejected_rows": "Source rows that could not be loaded, with the reason.",
    "ingest_log": "Per-file accounting: rows read, kept, rejected, other départements.",
}


@dg.multi_asset(
    name="bronze_ingest",
    specs=[
        dg.AssetSpec(["bronze", table], description=text, group_name="bronze",
                     kinds=LAKE_KINDS | {"csv"}, owners=OWNERS)
        for table, text in INGEST_TABLES.items()
    ],
    partitions_def=baac_years,
    # A range of years (a backfill) is ingested in one run, as `accidents ingest --years A-B` does.
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
    description="pipeline.bronze.ingest.ingest_years on the BAAC files of the partition's year(s).",
)
def bronze_ingest(context: dg.AssetExecutionContext, lake: DuckLakeResource,
                  baac_source: BaacSourceResource):
    from pipeline.bronze.ingest import ingest_years

    years = sorted(int(key) for key in context.partition_keys)
    settings = lake.settings()
    files, label = baac_source.files_for_years(years, settings)
    with lake.connect() as con:
        summary = ingest_years(con, files, departments=settings.departments, source=label)
        context.log.info(summary.table())
        where = f"WHERE year IN ({', '.join(str(y) for y in years)})"
        for table in INGEST_TABLES:
            metadata = table_metadata(con, f"bronze.{table}", where=where)
            if table == "accidents":
                metadata |= summary_metadata(summary, skip=("files",)) | {"source": label}
            yield dg.MaterializeResult(asset_key=["bronze", table], metadata=metadata)


class RoadsConfig(dg.Config):
    download_timeout_s: int = 180
    vma_radius_m: float = 50.0


@dg.asset(
    key=["bronze", "roads"],
    deps=[["bronze", "accidents"]],  # missing speed limits are imputed from accidents' vma
    group_name="bronze",
    kinds=LAKE_KINDS | {"openstreetmap"},
    owners=OWNERS,
    description="pipeline.bronze.roads.build_roads: OpenStreetMap drivable edges (demo: the synthetic network).",
)
def roads(config: RoadsConfig, lake: DuckLakeResource, baac_source: BaacSourceResource) -> dg.MaterializeResult:
    from pipeline.bronze.roads import build_roads

    settings = lake.settings()
    with lake.connect() as con:
        summary = build_roads(con, roads_file=baac_source.roads_path(settings),
                              cache_dir=settings.cache_dir / "osm", department=lake.department,
                              timeout=config.download_timeout_s, vma_radius_m=config.vma_radius_m)
        return dg.MaterializeResult(metadata=summary_metadata(summary) | table_metadata(con, "bronze.roads"))
