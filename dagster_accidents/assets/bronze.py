"""Bronze: BAAC files -> raw/accidents/rejected tables (one partition per year), OSM -> roads."""

import dagster as dg

from dagster_accidents.assets.common import LAKE_KINDS, OWNERS
from dagster_accidents.config import config_class, params_from
from dagster_accidents.metadata import summary_metadata, synthetic_entries, synthetic_metadata, table_metadata
from dagster_accidents.partitions import BY_DEP, DEP, YEAR, baac_dep_years, departements, dimension
from dagster_accidents.resources import BaacSourceResource, DuckLakeResource
from pipeline.bronze.params import IngestParams
from pipeline.silver.params import FeatureParams
from pipeline.usecases.features import build_roads_table
from pipeline.usecases.ingest import ingest

RoadsConfig = config_class(FeatureParams, "RoadsConfig", only=("roads_file", "osm_timeout"))

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
    partitions_def=baac_dep_years,
    # One run per (département, year), so that each partition's metadata counts its own rows only and
    # a backfill of several départements is independent runs.
    backfill_policy=dg.BackfillPolicy.multi_run(1),
    can_subset=False,
    description="pipeline.usecases.ingest.ingest on the BAAC files of the partition's year, for its "
                "département: replaces that (département, year) slice of every bronze table.",
)
def bronze_ingest(context: dg.AssetExecutionContext, lake: DuckLakeResource,
                  baac_source: BaacSourceResource):
    deps = sorted({dimension(baac_dep_years, key, DEP) for key in context.partition_keys})
    years = tuple(sorted({int(dimension(baac_dep_years, key, YEAR)) for key in context.partition_keys}))
    settings = lake.settings().with_(departments=tuple(deps))
    outcome = ingest(settings, IngestParams(years=years), source=baac_source.open(settings))
    context.log.info(outcome.summary.table())
    where = f"WHERE year IN ({', '.join(str(y) for y in years)})"
    with lake.connect(read_only=True) as con:
        for table in INGEST_TABLES:
            dep = "upper(trim(dep))" if table == "raw_caracteristiques" else "dep"
            metadata = table_metadata(con, f"bronze.{table}", where=f"{where} AND list_contains(?, {dep})",
                                      params=[deps]) | synthetic_entries(outcome.source.synthetic)
            if table == "accidents":
                metadata |= summary_metadata(outcome.summary, skip=("files",)) | {"source": outcome.source.label}
            yield dg.MaterializeResult(asset_key=["bronze", table], metadata=metadata)


@dg.asset(
    key=["bronze", "roads"],
    # missing speed limits are imputed from the département's accidents' vma (all its years)
    deps=[dg.AssetDep(["bronze", "accidents"], partition_mapping=BY_DEP)],
    partitions_def=departements,
    group_name="bronze",
    kinds=LAKE_KINDS | {"openstreetmap"},
    owners=OWNERS,
    description="pipeline.bronze.roads.build_roads: OpenStreetMap drivable edges (demo: the synthetic network).",
)
def roads(context: dg.AssetExecutionContext, config: RoadsConfig, lake: DuckLakeResource,
          baac_source: BaacSourceResource) -> dg.MaterializeResult:
    dep = context.partition_key
    settings = lake.settings_for(dep)
    summary = build_roads_table(settings, params_from(config, FeatureParams), source=baac_source.open(settings))
    with lake.connect(read_only=True, dep=dep) as con:
        return dg.MaterializeResult(metadata=summary_metadata(summary) | table_metadata(
            con, "bronze.roads", where="WHERE dep = ?", params=[dep]) | synthetic_metadata(con))
