"""Loaders that turn public datasets into the warehouse's input contract."""
