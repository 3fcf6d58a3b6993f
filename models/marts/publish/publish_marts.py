"""Publish the marts to Parquet for BI tools (logic: retention.publish).

Runs after every mart it lists has been built and tested (publish_mart_tables refs
them all), so a failed build never publishes.
"""

from retention.publish import publish_marts


def model(dbt, session):
    dbt.config(materialized="table")
    marts = dbt.ref("publish_mart_tables").df()
    config = dbt.config.get("publish") or {}
    return publish_marts(
        session,
        root=config["root"],
        tables=marts["table_name"].tolist(),
        schema=config.get("schema", "marts"),
        expected_rows=dict(zip(marts["table_name"], marts["row_count"], strict=True)),
    )
