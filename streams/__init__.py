"""Stream processing of smartcity-ioc: the pure core (KPI catalog, accumulators, windows,
pipeline, routing, de-duplication) and its runtimes (`streams.worker`, `streams.replay`)."""
