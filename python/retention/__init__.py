"""The retention warehouse's Python package: everything the dbt Python models call."""

__version__ = "0.1.0"
