"""Helpers shared by every test package: Kafka I/O, KPI tables and hand-written readings."""
