-- What each KPI value stands on: the denominator of a ratio or weighted mean (total weight,
-- readings expected), the observation count otherwise. District rows then roll up to the
-- province exactly as sum(value * weight) / sum(weight). Rows written before this migration
-- have none: readers take coalesce(weight, count).

ALTER TABLE kpi ADD COLUMN IF NOT EXISTS weight double precision;
ALTER TABLE kpi ADD CONSTRAINT kpi_weight_valid
    CHECK (weight IS NULL OR (weight >= 0 AND weight < 'Infinity'));

ALTER TABLE kpi_audit ADD COLUMN IF NOT EXISTS weight double precision;
ALTER TABLE kpi_audit ADD CONSTRAINT kpi_audit_weight_valid
    CHECK (weight IS NULL OR (weight >= 0 AND weight < 'Infinity'));

-- A view's * was expanded when it was created: re-create it to show the new column.
CREATE OR REPLACE VIEW kpi_latest AS
SELECT DISTINCT ON (kpi, entity_kind, entity_id, window_kind) *
FROM kpi
ORDER BY kpi, entity_kind, entity_id, window_kind, window_start DESC, window_end DESC;
