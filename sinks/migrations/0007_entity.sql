-- Where each entity is: one row per (entity_kind, entity_id) the sink has written a KPI
-- for, with the district and a position (WGS 84 degrees) from schemas/geo.py. The map
-- panels join KPI rows to it. Written by the sink on an entity's first KPI row, never
-- updated: a real deployment may fill it from its asset inventory instead.

CREATE TABLE IF NOT EXISTS entity (
    entity_kind text             NOT NULL,
    entity_id   text             NOT NULL,
    district    text             NOT NULL,
    longitude   double precision NOT NULL,
    latitude    double precision NOT NULL,
    first_seen  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_kind, entity_id),
    CONSTRAINT entity_longitude_valid CHECK (longitude BETWEEN -180 AND 180),
    CONSTRAINT entity_latitude_valid CHECK (latitude BETWEEN -90 AND 90)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana') THEN
        GRANT SELECT ON entity TO ioc_grafana;
    END IF;
END
$$;
