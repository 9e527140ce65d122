-- Province quantiles in a fraction of the time. Merging district sketches from their JSON
-- bins (ioc_sketch_quantile, migration 0009) costs about 0.9 ms per group of 8 districts:
-- a day's time series of network latency p95 took 1 s. `sketch_cumulative` holds the same
-- sketch as the sink writes it (sinks/sketch_cumulative.py): cumulative bin weights in one
-- float array,
--   [n, total, zero, first positive key, positive keys, cumulative weights...,
--    first negative key, negative keys, cumulative weights...]
-- so the weight below any key of several sketches is one array read per sketch, and the
-- quantile is a binary search over keys instead of a sort of every bin. Rows written before
-- this migration (or with a sketch too wide for an array) have none: the boards merge their
-- JSON bins as before.

ALTER TABLE kpi ADD COLUMN IF NOT EXISTS sketch_cumulative double precision[];
ALTER TABLE kpi_audit ADD COLUMN IF NOT EXISTS sketch_cumulative double precision[];

CREATE OR REPLACE VIEW kpi_latest AS
SELECT DISTINCT ON (kpi, entity_kind, entity_id, window_kind) *
FROM kpi
ORDER BY kpi, entity_kind, entity_id, window_kind, window_start DESC, window_end DESC;

-- Concatenation of arrays, as array_agg is of values.
CREATE OR REPLACE AGGREGATE ioc_array_cat_agg(anycompatiblearray) (
    SFUNC = array_cat, STYPE = anycompatiblearray
);

-- The `q` quantile of the merge of the sketches concatenated in `sketches` (NULL when they
-- hold no observation): the value ioc_sketch_quantile gives for their JSON bins.
CREATE OR REPLACE FUNCTION ioc_sketch_cumulative_quantile(sketches double precision[], q double precision)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    n double precision := 0;
    total double precision := 0;
    zero double precision := 0;
    negative_total double precision := 0;
    rank double precision;
    target double precision;
    above boolean;
    at int := 1;
    len int;
    side int;
    firsts int[];
    starts int[];
    lens int[];
    lo int;
    hi int;
    mid int;
    below double precision;
BEGIN
    IF sketches IS NULL THEN
        RETURN NULL;
    END IF;
    WHILE at <= cardinality(sketches) LOOP
        n := n + sketches[at];
        total := total + sketches[at + 1];
        zero := zero + sketches[at + 2];
        at := at + 3;
        at := at + 2 + sketches[at + 1]::int;
        len := sketches[at + 1]::int;
        IF len > 0 THEN
            negative_total := negative_total + sketches[at + 1 + len];
        END IF;
        at := at + 2 + len;
    END LOOP;
    IF n = 0 OR total <= 0 THEN
        RETURN NULL;
    END IF;
    rank := q * (total - 1);
    IF rank < negative_total THEN
        side := 1;
        target := negative_total - rank;
        above := false;
    ELSIF rank < zero + negative_total THEN
        RETURN 0.0;
    ELSE
        side := 0;
        target := rank - zero - negative_total;
        above := true;
    END IF;
    -- the side's arrays of every sketch: first key, where its weights start, how many
    at := 1;
    WHILE at <= cardinality(sketches) LOOP
        at := at + 3;
        IF side = 1 THEN
            at := at + 2 + sketches[at + 1]::int;
        END IF;
        len := sketches[at + 1]::int;
        IF len > 0 THEN
            firsts := firsts || sketches[at]::int;
            starts := starts || (at + 2);
            lens := lens || len;
            lo := least(lo, sketches[at]::int);
            hi := greatest(hi, sketches[at]::int + len - 1);
        END IF;
        at := at + 2 + len;
        IF side = 0 THEN
            at := at + 2 + sketches[at + 1]::int;
        END IF;
    END LOOP;
    -- the smallest key whose cumulative weight passes the target (the last key if none)
    WHILE lo < hi LOOP
        mid := lo + (hi - lo) / 2;
        below := 0;
        FOR i IN 1 .. cardinality(firsts) LOOP
            IF mid >= firsts[i] THEN
                below := below + sketches[starts[i] + least(mid - firsts[i], lens[i] - 1)];
            END IF;
        END LOOP;
        IF (above AND below > target) OR (NOT above AND below >= target) THEN
            hi := mid;
        ELSE
            lo := mid + 1;
        END IF;
    END LOOP;
    IF side = 1 THEN
        RETURN -ioc_sketch_bin_value(lo);
    END IF;
    RETURN ioc_sketch_bin_value(lo);
END
$$;
