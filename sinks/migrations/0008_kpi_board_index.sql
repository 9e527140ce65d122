-- One board index instead of two. Every board query filters on (kpi, entity_kind,
-- window_kind, district, window_start): district panels on entity_kind = 'district', the
-- entity tables and maps probe each entity's newest window through kpi_identity (kpi,
-- entity_kind, entity_id, window_start, ...). kpi_board_entity (a full-size index, as large
-- as kpi_identity) served no query the other two cannot, and kpi_board_district made the
-- district panels read every agency, site and sensor row of the KPI too. The new index
-- holds few distinct keys (B-tree deduplication keeps it about a tenth of kpi_identity) and
-- each write maintains two indexes instead of three. Figures: BENCHMARKS.md "Board queries".
--
-- On a large table this builds the new index on every chunk while writes wait (the sink
-- retries); on a live server create it first by hand, chunk by chunk, with
--   CREATE INDEX kpi_board ON kpi (...) WITH (timescaledb.transaction_per_chunk);
-- then this migration only drops the two old ones.

CREATE INDEX IF NOT EXISTS kpi_board
    ON kpi (kpi, entity_kind, window_kind, district, window_start DESC);
DROP INDEX IF EXISTS kpi_board_district;
DROP INDEX IF EXISTS kpi_board_entity;
