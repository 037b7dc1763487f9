-- Exact usage per meter, subject and group values over all time: what the demo prints.
--
-- FINAL makes ReplacingMergeTree collapse rows with the same sorting key (and so the same
-- idempotency key) at read time, so a record delivered twice is counted once even before a
-- background merge has run; summing without it would double count until then.
-- Usage is sum(value_sum) for every aggregation that has one (for COUNT, value_sum = event_count).
-- `groups` renders the sorted key/value arrays as "k1=v1,k2=v2" (empty without groups); grouping is
-- on the arrays themselves so distinct groups can never merge through the rendering.
SELECT
    meter,
    subject,
    arrayStringConcat(
        arrayMap((k, v) -> concat(k, '=', v), group_keys, group_values), ',') AS groups,
    sum(event_count) AS events,
    sum(value_sum) AS usage
FROM meterd.windows FINAL
GROUP BY meter, subject, group_keys, group_values
ORDER BY meter, subject, groups
