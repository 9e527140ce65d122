-- KPI rows: one final value of one KPI for one entity and one event-time window.
-- Contract: team brief "Database contract". Written only by the sink (upsert on identity).

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE kpi (
    kpi              text             NOT NULL,
    entity_kind      text             NOT NULL,
    entity_id        text             NOT NULL,
    district         text             NOT NULL,
    window_kind      text             NOT NULL,
    window_start     timestamptz      NOT NULL,
    window_end       timestamptz      NOT NULL,
    value            double precision NOT NULL,
    count            bigint           NOT NULL,
    source_topic     text             NOT NULL,
    source_partition int              NOT NULL,
    first_offset     bigint           NOT NULL,
    last_offset      bigint           NOT NULL,
    event_count      bigint           NOT NULL,
    written_at       timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT kpi_window_order CHECK (window_end > window_start),
    CONSTRAINT kpi_window_kind CHECK (
        (window_kind = '1m' AND window_end - window_start = interval '1 minute')
        OR (window_kind = '15m' AND window_end - window_start = interval '15 minutes')
        OR (window_kind = '1h' AND window_end - window_start = interval '1 hour')
    ),
    CONSTRAINT kpi_value_finite CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
    CONSTRAINT kpi_count_nonnegative CHECK (count >= 0),
    CONSTRAINT kpi_event_count_nonnegative CHECK (event_count >= 0),
    CONSTRAINT kpi_partition_nonnegative CHECK (source_partition >= 0),
    CONSTRAINT kpi_offsets_ordered CHECK (first_offset >= 0 AND first_offset <= last_offset)
);

-- Chunk interval 1 day. Volume: about 500 KPI entities (8 districts, agencies, cell sites,
-- farm sensors) x ~7 KPIs each x 2 rows a minute (1-min tumbling + 15/1-min hopping; the
-- hourly row adds 1/60) is ~7k rows/min, ~10M rows/day, ~3-4 GB/day with the indexes
-- below. One day keeps the newest chunk and its indexes within ~25 % of a 16 GB server's
-- memory, boards mostly read the last day (one or two chunks), and retention drops whole
-- days. Tune with set_chunk_time_interval() when the fleet grows.
-- No default time index: every query filters on kpi first (indexes below) and time-only
-- scans are pruned to chunks anyway; one index less makes every write cheaper.
SELECT create_hypertable(
    'kpi', by_range('window_start', INTERVAL '1 day'), create_default_indexes => false
);

-- Upsert identity; includes the time column as a hypertable unique index must.
CREATE UNIQUE INDEX kpi_identity ON kpi (kpi, entity_kind, entity_id, window_start, window_end);
-- Boards: one KPI across districts, and one KPI of one entity, newest first.
CREATE INDEX kpi_board_district ON kpi (kpi, district, window_kind, window_start DESC);
CREATE INDEX kpi_board_entity ON kpi (kpi, entity_kind, entity_id, window_kind, window_start DESC);

-- The newest row of each (kpi, entity_kind, entity_id, window_kind).
CREATE VIEW kpi_latest AS
SELECT DISTINCT ON (kpi, entity_kind, entity_id, window_kind) *
FROM kpi
ORDER BY kpi, entity_kind, entity_id, window_kind, window_start DESC, window_end DESC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        GRANT USAGE ON SCHEMA public TO ioc_grafana;
        GRANT SELECT ON kpi, kpi_latest TO ioc_grafana;
    END IF;
END
$$;
