-- Exact province quantiles. A district row of a quantile KPI (processing time p50/p95,
-- latency p95) carries its window's DDSketch state in `sketch`: [n, total weight, weight at
-- zero, positive bins, negative bins], bins as {"key": weight}. Merging adds bin weights, so
-- the sketch of several districts is the sketch of all their events, and
-- ioc_sketch_quantile gives the quantile the worker would compute over all of them
-- (streams/accumulators/quantile.py, Quantile.result; 1 % relative accuracy). Rows
-- written before this migration have none: readers fall back to the worst district.

ALTER TABLE kpi ADD COLUMN IF NOT EXISTS sketch jsonb;
ALTER TABLE kpi_audit ADD COLUMN IF NOT EXISTS sketch jsonb;

-- A view's * was expanded when it was created: re-create it to show the new column.
CREATE OR REPLACE VIEW kpi_latest AS
SELECT DISTINCT ON (kpi, entity_kind, entity_id, window_kind) *
FROM kpi
ORDER BY kpi, entity_kind, entity_id, window_kind, window_start DESC, window_end DESC;

-- The value DDSketch reports for bin `key` (LogarithmicMapping(0.01).value).
CREATE OR REPLACE FUNCTION ioc_sketch_bin_value(key int) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT power(2.0::double precision, key / 34.65620375188817::double precision)
             * 0.9900000000000001::double precision $$;

-- DDSketch's Store.key_at_rank over the merged bins at `path` (3: positive, 4: negative).
CREATE OR REPLACE FUNCTION ioc_sketch_key_at_rank(
    sketches jsonb[], path int, rank double precision, lower boolean
) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    bin record;
    running double precision := 0;
    last_key int;
BEGIN
    FOR bin IN
        SELECT b.key::int AS key, sum(b.value::double precision) AS weight
        FROM unnest(sketches) AS s, jsonb_each_text(s -> path) AS b
        GROUP BY b.key::int
        ORDER BY b.key::int
    LOOP
        running := running + bin.weight;
        last_key := bin.key;
        IF (lower AND running > rank) OR (NOT lower AND running >= rank + 1) THEN
            RETURN bin.key;
        END IF;
    END LOOP;
    RETURN last_key;
END
$$;

-- The `q` quantile of the merge of `sketches` (NULL when they hold no observation).
CREATE OR REPLACE FUNCTION ioc_sketch_quantile(sketches jsonb[], q double precision)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    n bigint;
    total double precision;
    zero double precision;
    negative_total double precision;
    positive_bins int;
    rank double precision;
BEGIN
    SELECT sum((s ->> 0)::bigint), sum((s ->> 1)::double precision),
           sum((s ->> 2)::double precision)
    INTO n, total, zero
    FROM unnest(sketches) AS s;
    IF n IS NULL OR n = 0 OR total <= 0 THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(b.value::double precision), 0) INTO negative_total
    FROM unnest(sketches) AS s, jsonb_each_text(s -> 4) AS b;
    SELECT count(DISTINCT b.key) INTO positive_bins
    FROM unnest(sketches) AS s, jsonb_each_text(s -> 3) AS b;
    IF negative_total = 0 AND zero = 0 AND positive_bins = 1 THEN
        RETURN ioc_sketch_bin_value(ioc_sketch_key_at_rank(sketches, 3, 0, true));
    END IF;
    rank := q * (total - 1);
    IF rank < negative_total THEN
        RETURN -ioc_sketch_bin_value(
            ioc_sketch_key_at_rank(sketches, 4, negative_total - rank - 1, false));
    END IF;
    IF rank < zero + negative_total THEN
        RETURN 0.0;
    END IF;
    RETURN ioc_sketch_bin_value(
        ioc_sketch_key_at_rank(sketches, 3, rank - zero - negative_total, true));
END
$$;

