-- Exact usage per meter, subject, group values and UTC hour.
--
-- Same deduplication as usage_per_subject.sql: FINAL collapses every idempotency key to one row
-- before summing. A window is counted in the UTC hour that contains its start (window_time is a
-- DateTime('UTC'), so the server's timezone does not matter); windows are UTC-aligned and one
-- minute long by default, so none straddles an hour. This is also the SELECT to use
-- with INSERT ... SELECT when rolling closed hours up into a table of their own (never a
-- materialized view: it would see duplicates before they collapse).
SELECT
    meter,
    subject,
    arrayStringConcat(
        arrayMap((k, v) -> concat(k, '=', v), group_keys, group_values), ',') AS groups,
    toStartOfHour(window_time) AS hour,
    sum(event_count) AS events,
    sum(value_sum) AS usage
FROM meterd.windows FINAL
GROUP BY meter, subject, group_keys, group_values, hour
ORDER BY meter, subject, groups, hour
