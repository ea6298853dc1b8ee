"""Use cases: one function per thing a user does (ingest, build features, train and register,
evaluate, predict a day, draw the map). They hold every product rule — which model may become
champion, what may be evaluated and how it is labelled, which roads file and truth a source has, the
history windows used for scoring — so that the CLI, Dagster, the notebook and the HTTP API only
translate arguments, config or requests and present the results.

May import every layer below (core, sources, bronze, silver, gold, serving); never an entry point.
"""
