"""Helpers shared by every test package: Kafka I/O and KPI tables."""
