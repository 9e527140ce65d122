"""Typed contracts of smartcity-ioc: raw events, KPI rows, topics and partition keys."""
