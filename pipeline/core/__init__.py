"""Core: what every layer shares — settings (the only reader of the environment), the lake
connection, errors, département profiles, calendars, spatial helpers and the feature definitions.
Imports nothing from bronze/silver/gold/serving/usecases/cli."""
