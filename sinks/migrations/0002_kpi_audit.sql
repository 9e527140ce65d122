-- KPI rows recomputed by `ioc replay --into-table`, kept apart from the live rows: same
-- columns as kpi plus the replay run that produced them. Identity = replay_id + kpi identity.

CREATE TABLE kpi_audit (
    replay_id        text             NOT NULL,
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
    CONSTRAINT kpi_audit_replay_id CHECK (replay_id <> ''),
    CONSTRAINT kpi_audit_window_order CHECK (window_end > window_start),
    CONSTRAINT kpi_audit_window_kind CHECK (
        (window_kind = '1m' AND window_end - window_start = interval '1 minute')
        OR (window_kind = '15m' AND window_end - window_start = interval '15 minutes')
        OR (window_kind = '1h' AND window_end - window_start = interval '1 hour')
    ),
    CONSTRAINT kpi_audit_value_finite CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
    CONSTRAINT kpi_audit_count_nonnegative CHECK (count >= 0),
    CONSTRAINT kpi_audit_event_count_nonnegative CHECK (event_count >= 0),
    CONSTRAINT kpi_audit_partition_nonnegative CHECK (source_partition >= 0),
    CONSTRAINT kpi_audit_offsets_ordered CHECK (first_offset >= 0 AND first_offset <= last_offset)
);

-- Same 1-day chunks as kpi (a replay covers hours to days; retention drops whole days).
SELECT create_hypertable(
    'kpi_audit', by_range('window_start', INTERVAL '1 day'), create_default_indexes => false
);

CREATE UNIQUE INDEX kpi_audit_identity
    ON kpi_audit (replay_id, kpi, entity_kind, entity_id, window_start, window_end);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        GRANT SELECT ON kpi_audit TO ioc_grafana;
    END IF;
END
$$;
