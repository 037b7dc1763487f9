-- AVG: the mean of the values, carried exactly as a sum and a count per partial.
--
-- Placeholders: {{METER}} (the meter's slug), {{PERIOD}} (toStartOfHour or toStartOfDay) and
-- {{TIME_ZONE}} (an IANA name such as UTC or Europe/Berlin; hours and days are that zone's).
-- One row per subject, group values and period; drop `groups` from SELECT and GROUP BY for
-- totals per subject. Runs on ClickHouse 18.16 and current releases. See README.md "Queries".
--
-- FINAL collapses every idempotency key to one row before aggregating, so a partial delivered
-- twice counts once; revisions of a window are distinct keys and all count. A window belongs to
-- the period holding its start: windows never straddle a local hour (1h windows in zones with a
-- :30 or :45 offset excepted: use windows of 15m or less there).
-- The mean of partial means would weigh windows wrongly: divide the sums instead.
SELECT
    subject,
    arrayStringConcat(
        arrayMap((k, v) -> concat(k, '=', v), group_keys, group_values), ',') AS groups,
    {{PERIOD}}(toDateTime(window_start, '{{TIME_ZONE}}')) AS period,
    toUnixTimestamp(period) AS period_unix,
    sum(value_sum) / sum(event_count) AS value,
    sum(event_count) AS events
FROM meterd.windows FINAL
WHERE meter = '{{METER}}'
GROUP BY subject, group_keys, group_values, period
ORDER BY subject, groups, period
