"""Metrics: one module per concern, each one readable SQL query over the canonical tables.

Every function takes a DuckDB connection (or cursor) and a `analytics.scope.Scope` and
returns plain values or DataFrames; docs/metrics.md gives each figure's definition.
"""
