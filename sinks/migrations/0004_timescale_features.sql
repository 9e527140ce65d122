-- Compression and a daily rollup: only where the TimescaleDB edition has them
-- (`timescaledb.license` = 'timescale'). The Apache edition used locally refuses both, so
-- this migration is a no-op there (it is still recorded as applied: after switching a
-- server to the timescale license, run the body of this DO block by hand once).

DO $$
BEGIN
    IF current_setting('timescaledb.license', true) IS DISTINCT FROM 'timescale' THEN
        RAISE NOTICE 'timescaledb.license is %, not timescale: compression and the kpi_daily '
            'rollup are skipped', current_setting('timescaledb.license', true);
        RETURN;
    END IF;

    -- Compress chunks older than a week: late upserts into such old windows are rare
    -- (TimescaleDB >= 2.11 still accepts them into compressed chunks).
    EXECUTE 'ALTER TABLE kpi SET (timescaledb.compress, '
        'timescaledb.compress_segmentby = ''kpi, entity_kind, entity_id'', '
        'timescaledb.compress_orderby = ''window_start DESC, window_end DESC'')';
    PERFORM add_compression_policy('kpi', INTERVAL '7 days');

    EXECUTE 'ALTER TABLE raw_events SET (timescaledb.compress, '
        'timescaledb.compress_segmentby = ''topic, district'', '
        'timescaledb.compress_orderby = ''occurred_at DESC, "offset" DESC'')';
    PERFORM add_compression_policy('raw_events', INTERVAL '2 days');

    -- Daily rollup of the 1-minute rows. Ratios merge as sum(value * count) / sum(count);
    -- counting KPIs add up in value_sum. WITH NO DATA: creating it WITH DATA cannot run
    -- inside a transaction; the policy fills it.
    EXECUTE $cagg$
        CREATE MATERIALIZED VIEW kpi_daily WITH (timescaledb.continuous) AS
        SELECT time_bucket(INTERVAL '1 day', window_start) AS day,
               kpi, entity_kind, entity_id, district,
               sum(value * count) / NULLIF(sum(count), 0) AS value_weighted,
               sum(value) AS value_sum,
               min(value) AS value_min,
               max(value) AS value_max,
               sum(count) AS count,
               count(*) AS windows
        FROM kpi
        WHERE window_kind = '1m'
        GROUP BY day, kpi, entity_kind, entity_id, district
        WITH NO DATA
    $cagg$;
    PERFORM add_continuous_aggregate_policy('kpi_daily',
        start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour',
        schedule_interval => INTERVAL '1 hour');

    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        GRANT SELECT ON kpi_daily TO ioc_grafana;
    END IF;
END
$$;
