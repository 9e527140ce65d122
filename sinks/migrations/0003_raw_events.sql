-- Optional archive of validated raw events (`ioc sink --archive-raw`), for audits.
-- Identity is the Kafka position; occurred_at is part of it because a hypertable's unique
-- index must include the time column.

CREATE TABLE raw_events (
    topic       text        NOT NULL,
    "partition" int         NOT NULL,
    "offset"    bigint      NOT NULL,
    occurred_at timestamptz NOT NULL,
    district    text        NOT NULL,
    event_id    text        NOT NULL,
    payload     jsonb       NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_events_position CHECK ("partition" >= 0 AND "offset" >= 0)
);

-- Chunk interval 1 day. Volume: ~1k farm sensors x 1 reading/min + ~500 probed sites x
-- 1 probe/min + portal dossiers is ~2-3M events/day at ~500 B each with the unique index,
-- ~1.5 GB/day: a day per chunk keeps the hot chunk in memory and retention per day.
SELECT create_hypertable(
    'raw_events', by_range('occurred_at', INTERVAL '1 day'), create_default_indexes => false
);

CREATE UNIQUE INDEX raw_events_position_key
    ON raw_events (topic, "partition", "offset", occurred_at);
CREATE INDEX raw_events_event_id ON raw_events (event_id, occurred_at DESC);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        GRANT SELECT ON raw_events TO ioc_grafana;
    END IF;
END
$$;
