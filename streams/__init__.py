"""Stream processing of smartcity-ioc: the Faust app, windows, KPIs, metrics and replay."""
