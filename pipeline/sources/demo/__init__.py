"""The synthetic demo: deterministic BAAC-format accident files for New Caledonia, an OSM road
network and the true accident intensity that generated them (so models can be scored against it).

- `generator`: `generate_demo`, the entry point writing every file;
- `land`, `geography`: the coastline, communes and the road network;
- `calendar`: holidays and the calendar effects;
- `model`: the true intensity over road sites x hours (`DemoTruth`, `load_truth`);
- `records`, `writer`: one year's accidents as the official files, with their quirks.

Nothing is imported here, so reading the truth does not load the whole generator.
"""
