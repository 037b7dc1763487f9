-- Dead letters per agent, reason code and UTC hour: which agents receive events they must refuse,
-- of which kind (invalid, value, late, future, cardinality, oversized), and since when.
--
-- FINAL collapses the copies of a letter an agent resent (after a restart or a lost
-- confirmation) to one row before counting, so each refused event counts once. received_time is
-- a DateTime('UTC'), so hours are UTC hours whatever the server's timezone.
SELECT
    agent_id,
    reason_code,
    toStartOfHour(received_time) AS hour,
    count() AS dead_letters,
    sum(raw_truncated) AS truncated
FROM meterd.dead_letters FINAL
GROUP BY agent_id, reason_code, hour
ORDER BY agent_id, reason_code, hour
