"""Which imports may sit inside a function: the one list (tests/test_layers.py enforces it).

Everything is imported at the top of the file that uses it (a file's header shows what it depends
on), except
- the HEAVY_LIBRARIES below, imported inside the functions that need them and never at the top of a
  module: each costs tens to hundreds of milliseconds beyond the data stack and only a few code paths
  need it (training, tuning, evaluation figures, the map, the OpenStreetMap download, the Kubernetes
  executor), so that `accidents --help`, the API and the Dagster code location do not pay for it;
- the LAZY_BOUNDARIES: the few project modules that import project code when it is needed, each for
  the reason given.

Import costs measured on the 2-core machine (a timed `import X` in a fresh interpreter, median of 5 to
9): "cold" alone, "over" with DATA_STACK already imported. The data stack itself (numpy 100-120 ms,
pandas 330, pyarrow 140, duckdb 60: 400 ms together) is what every stage works with: it is imported at
the top of the stage code, and only the CLI's argument parsing must not reach it (tests/test_layers.py).
A library is listed when it costs about 25 ms or more over the data stack and the few functions that
need it can import it themselves. Not heavy, imported at the top: shapely (10 ms over), holidays (10),
jinja2 (15-20), osmium (7), tqdm (5), threadpoolctl and blake3 (1), prometheus_client (15), uvicorn
(30, the server of `accidents serve` only); requests (35) is the sources' transport, whose exception
types their module-level definitions name; and the frameworks a layer is built on: FastAPI (serving),
dagster (dagster_accidents). statsmodels and numba are not dependencies.
"""

from __future__ import annotations

DATA_STACK = ("numpy", "pandas", "pyarrow", "duckdb")

# top-level package name -> why it is heavy (cold ms / ms over the data stack)
HEAVY_LIBRARIES = {
    "sklearn": "scikit-learn: 860 / 470 ms; neighbour searches of the road geometry, the reference "
               "protocol's figures and the demo generator",
    "mlflow": "990 / 630 ms; the model registry and tracking (training, evaluation, a champion not cached)",
    "lightgbm": "1160 / 620 ms (imports scikit-learn); one training candidate, a champion of that kind",
    "xgboost": "920 / 630 ms; one training candidate, a champion of that kind",
    "catboost": "350 / 70-90 ms; one training candidate, a champion of that kind",
    "optuna": "120 / 35-50 ms; tuning only",
    "scipy": "`import scipy` is cheap, its parts are not: stats 510, spatial 290, optimize 230, ndimage "
             "200, special 120 ms over; the KD-tree, the blend's weights, intervals, the map's heat layer",
    "matplotlib": "120 / 60 ms, pyplot 270 / 235 ms; figures and the map's heat layer",
    "folium": "370 / 130-160 ms; the HTML map",
    "branca": "110 / 45-50 ms; the HTML map (with folium)",
    "osmnx": "1340 / 1180 ms; the OpenStreetMap download",
    "networkx": "90 / 60 ms; the OpenStreetMap road graph",
    "geopandas": "280 / 40-70 ms; building the road network (bronze.roads, silver road points)",
    "pyproj": "57 / 25-35 ms; metric projections (core.spatial.to_metric)",
    "glum": "840 / 600 ms; tests only (the Poisson solver against a maintained GLM library)",
    "dagster_k8s": "770 ms over dagster; the production executor only",
}

# project module -> why it imports project code lazily (inside a function or with importlib)
LAZY_BOUNDARIES = {
    "pipeline.cli": "a sub-command's module (and through it its use case, the data stack and the stage "
                    "code) is imported when that command runs, never for --help or a usage error; the "
                    "lake's diagnosis of a failure likewise (it needs DuckDB)",
    "pipeline.gold.algorithms": "an algorithm's module is imported by name (one module per learning "
                                "library, discovered without importing them)",
    "pipeline.gold.registry": "the MLflow flavour of a model's library (mlflow.<library>), by name",
    # The API answers /readyz and the stored days while the champion loads in a thread: the model, scoring
    # and map code (registry, model kinds, grid scorer, map) import there or on first use, not before
    # start-up completes (bench serve_startup).
    "pipeline.serving.champion": "the registry and the stored model's code, in the champion's loading thread",
    "pipeline.serving.service": "the scoring code (import_scoring, in the champion's loading thread), the "
                                "registry's version list and the map's road network on first use",
    "pipeline.serving.map_page": "the map's code (folium and its road layer) on the first map asked for",
}
