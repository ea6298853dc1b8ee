"""Bronze: BAAC files -> raw/accidents/rejected tables (one partition per year), OSM -> roads."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import summary_metadata, table_metadata
from dagster_accidents.partitions import baac_years
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource

from pipeline.silver.params import FeatureParams

# The roads and the silver build share the feature parameters (roads file, download timeout).
FeaturesConfig = config_class(FeatureParams, "FeaturesConfig")

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
    # One run per year, so that each partition's metadata counts that year's rows only.
    backfill_policy=dg.BackfillPolicy.multi_run(1),
    can_subset=False,
    description="pipeline.usecases.ingest.ingest on the BAAC files of the partition's year.",
)
def bronze_ingest(context: dg.AssetExecutionContext, lake: DuckLakeResource,
                  baac_source: BaacSourceResource):
    from pipeline.bronze.params import IngestParams
    from pipeline.usecases.ingest import ingest

    settings = lake.settings()
    years = tuple(sorted(int(key) for key in context.partition_keys))
    outcome = ingest(settings, IngestParams(years=years), source=baac_source.open(settings))
    context.log.info(outcome.summary.table())
    where = f"WHERE year IN ({', '.join(str(y) for y in years)})"
    with lake.connect(read_only=True) as con:
        for table in INGEST_TABLES:
            metadata = table_metadata(con, f"bronze.{table}", where=where)
            if table == "accidents":
                metadata |= summary_metadata(outcome.summary, skip=("files",)) | {"source": outcome.source.label}
            yield dg.MaterializeResult(asset_key=["bronze", table], metadata=metadata)


@dg.asset(
    key=["bronze", "roads"],
    deps=[["bronze", "accidents"]],  # missing speed limits are imputed from accidents' vma
    group_name="bronze",
    kinds=LAKE_KINDS | {"openstreetmap"},
    owners=OWNERS,
    description="pipeline.bronze.roads.build_roads: OpenStreetMap drivable edges (demo: the synthetic network).",
)
def roads(config: FeaturesConfig, lake: DuckLakeResource, baac_source: BaacSourceResource) -> dg.MaterializeResult:
    from pipeline.usecases.features import build_roads_table

    settings = lake.settings()
    summary = build_roads_table(settings, params_from(config, FeatureParams), source=baac_source.open(settings))
    with lake.connect(read_only=True) as con:
        return dg.MaterializeResult(metadata=summary_metadata(summary) | table_metadata(con, "bronze.roads"))
