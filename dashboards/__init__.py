"""Grafana boards of the operations center, generated with grafanalib."""
