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

-- DDSketch's Store.key_at_rank over bins `keys` (ascending) with weights `weights`.
CREATE OR REPLACE FUNCTION ioc_sketch_key_at_rank(
    keys int[], weights double precision[], rank double precision, lower boolean
) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    running double precision := 0;
BEGIN
    FOR i IN 1 .. cardinality(keys) LOOP
        running := running + weights[i];
        IF (lower AND running > rank) OR (NOT lower AND running >= rank + 1) THEN
            RETURN keys[i];
        END IF;
    END LOOP;
    RETURN keys[cardinality(keys)];
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
    pos_keys int[];
    pos_weights double precision[];
    neg_keys int[];
    neg_weights double precision[];
    negative_total double precision := 0;
    rank double precision;
BEGIN
    SELECT sum((s ->> 0)::bigint), sum((s ->> 1)::double precision),
           sum((s ->> 2)::double precision)
    INTO n, total, zero
    FROM unnest(sketches) AS s;
    IF n IS NULL OR n = 0 OR total <= 0 THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(key ORDER BY key), array_agg(weight ORDER BY key)
    INTO pos_keys, pos_weights
    FROM (SELECT b.key::int AS key, sum(b.value::double precision) AS weight
          FROM unnest(sketches) AS s, jsonb_each_text(s -> 3) AS b GROUP BY 1) AS bins;
    IF EXISTS (SELECT FROM unnest(sketches) AS s WHERE s -> 4 <> '{}'::jsonb) THEN
        SELECT array_agg(key ORDER BY key), array_agg(weight ORDER BY key), sum(weight)
        INTO neg_keys, neg_weights, negative_total
        FROM (SELECT b.key::int AS key, sum(b.value::double precision) AS weight
              FROM unnest(sketches) AS s, jsonb_each_text(s -> 4) AS b GROUP BY 1) AS bins;
    END IF;
    IF negative_total = 0 AND zero = 0 AND cardinality(pos_keys) = 1 THEN
        RETURN ioc_sketch_bin_value(pos_keys[1]);
    END IF;
    rank := q * (total - 1);
    IF rank < negative_total THEN
        RETURN -ioc_sketch_bin_value(
            ioc_sketch_key_at_rank(neg_keys, neg_weights, negative_total - rank - 1, false));
    END IF;
    IF rank < zero + negative_total THEN
        RETURN 0.0;
    END IF;
    RETURN ioc_sketch_bin_value(
        ioc_sketch_key_at_rank(pos_keys, pos_weights, rank - zero - negative_total, true));
END
$$;
