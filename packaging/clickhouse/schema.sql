-- ClickHouse side of meterd: the Kafka topic of window records (one JSONEachRow object per
-- message, see uplink/FORMAT.md) flows through a Kafka engine table and a materialized view into
-- meterd.windows, a ReplacingMergeTree holding one row per idempotency key. The dead-letter topic
-- (the events agents refused, same file) flows the same way into meterd.dead_letters, one row per
-- dead letter key.
--
-- Placeholders substituted by the caller: {{BROKERS}} (host:port,host:port), {{TOPIC}} (the
-- agents' kafka.topic), {{DEAD_LETTER_TOPIC}} (their kafka.dead_letter_topic), {{GROUP}} (the
-- consumer group; the dead letters are read by the group {{GROUP}}-dead-letters).
-- Statements are separated by ';' (once rendered, clickhouse-client --multiquery takes the file) and
-- each is re-runnable (IF NOT EXISTS), so a deploy script may apply the file again.
--
-- Runs on Debian 12's clickhouse-server 18.16 and on current ClickHouse. 18.16 has no Map,
-- DateTime64 or JSONExtract, so every record field maps to a plain column, times stay unix
-- numbers on the wire and DateTime is derived here.
--
-- Why no sums in a materialized view: a view sees every inserted block, duplicates included,
-- before ReplacingMergeTree collapses them in a background merge, so a view-maintained total
-- would count a resent key twice. Exact totals are computed at query time with FINAL
-- (usage_per_subject*.sql); closed hours may be rolled up with INSERT ... SELECT ... FINAL.

CREATE DATABASE IF NOT EXISTS meterd;

-- One row per window partial. Resending a partial, for any reason, resends the same key with the
-- same payload, so keeping any one row per key is exact.
--
-- The idempotency key is derived from (agent, meter, subject, groups, window_start, revision), so
-- all copies of a key share meter, subject and window_start: they land in the same partition and
-- next to each other in the sort order, which is what ReplacingMergeTree needs to collapse them
-- (it only deduplicates rows with equal sorting keys within one partition).
--
-- value_* are Float64 because agents send JSON numbers that may be fractional. Decimal would need
-- the agent to round; sums of the values agents produce (counts, token numbers, binary fractions)
-- are exact in Float64 anyway.
CREATE TABLE IF NOT EXISTS meterd.windows
(
    idempotency_key String,
    agent_id String,
    meter String,
    subject String,
    -- Group-by pairs as two parallel arrays sorted by key: 18.16 has no Map type.
    group_keys Array(String),
    group_values Array(String),
    -- Unix seconds, UTC-aligned window start, exactly as the record carries it.
    window_start UInt32,
    window_size_s UInt32,
    revision UInt32,
    event_count UInt64,
    -- For COUNT meters value_sum equals event_count, so usage is always sum(value_sum).
    value_sum Float64,
    value_min Float64,
    value_max Float64,
    latest_value Float64,
    -- Milliseconds stay an integer: 18.16 has no DateTime64.
    latest_time_ms UInt64,
    -- UNIQUE_COUNT meters: the distinct values seen in this partial (union them across partials).
    distinct_values Array(String),
    -- Derived, for readable queries and hourly grouping. ALIAS (computed when read, never
    -- stored) because 18.16 forced it: its view pushes blocks straight into the MergeTree
    -- without computing MATERIALIZED columns ("Expected column window_time"), and a DEFAULT
    -- column would have to be listed in the view and still be zero in JSONEachRow inserts that
    -- omit it. An ALIAS is right for the view, direct inserts and backfills alike.
    -- Typed DateTime('UTC') so hours are UTC hours whatever the server's timezone.
    window_time DateTime('UTC') ALIAS toDateTime(window_start, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(window_start))
ORDER BY (meter, subject, window_start, idempotency_key);

-- The consumer. Reading it directly steals messages from the view, so only the view selects
-- from it.
--
-- Engine syntax: the SETTINGS form below is what current ClickHouse documents, and 18.16 already
-- accepts it (checked on 18.16.1; the positional Kafka(brokers, topic, group, format) form works
-- on both too but is deprecated upstream). 18.16 rejects any kafka_* setting it does not know, so
-- only settings that exist there are used: notably no kafka_skip_broken_messages (added later).
--
-- That also means broken messages are never skipped: an unparsable record stalls its partition,
-- which shows up as consumer lag and keeps the record for a fix, where skipping would lose usage
-- silently. The agent never sends one (DESIGN.md).
--
-- A consumer group without committed offsets starts at the beginning of the topic only because
-- the server config sets <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>.
CREATE TABLE IF NOT EXISTS meterd.windows_queue
(
    idempotency_key String,
    agent_id String,
    meter String,
    subject String,
    group_keys Array(String),
    group_values Array(String),
    window_start UInt32,
    window_size_s UInt32,
    revision UInt32,
    event_count UInt64,
    value_sum Float64,
    value_min Float64,
    value_max Float64,
    latest_value Float64,
    latest_time_ms UInt64,
    distinct_values Array(String)
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = '{{BROKERS}}',
    kafka_topic_list = '{{TOPIC}}',
    kafka_group_name = '{{GROUP}}',
    kafka_format = 'JSONEachRow',
    -- One consumer: ordering within a partition does not matter (rows collapse by key), but more
    -- consumers than the 2 cores of an edge-sized box would only add rebalancing.
    kafka_num_consumers = 1;

-- Moves each consumed block into meterd.windows unchanged (no aggregation, see the top of this
-- file). Created last because creating it starts consumption.
CREATE MATERIALIZED VIEW IF NOT EXISTS meterd.windows_consumer TO meterd.windows
AS SELECT
    idempotency_key,
    agent_id,
    meter,
    subject,
    group_keys,
    group_values,
    window_start,
    window_size_s,
    revision,
    event_count,
    value_sum,
    value_min,
    value_max,
    latest_value,
    latest_time_ms,
    distinct_values
FROM meterd.windows_queue;

-- Dead letters: one row per event an agent refused, for operators at the center (which agents
-- receive bad input, of which kind, since when). An agent resends a letter it has no
-- confirmation for, with the same key (its buffer id and the letter's id), so copies share the
-- sorting key and the partition and collapse in merges; queries count with FINAL
-- (dead_letters_per_hour.sql). Not money: nothing else reads this table.
CREATE TABLE IF NOT EXISTS meterd.dead_letters
(
    dead_letter_key String,
    agent_id String,
    buffer_id String,
    dead_letter_id UInt64,
    -- Unix milliseconds when the agent received the event.
    received_ms UInt64,
    -- udp, unix_datagram, unix_stream or http.
    transport String,
    -- invalid, value, late, future, cardinality or oversized.
    reason_code String,
    reason String,
    -- The event's full length, and 1 when `raw` holds only its first 8 KiB. A flag as UInt8:
    -- 18.16 has no Bool type and its JSONEachRow reads no JSON booleans, so agents send 0 or 1.
    raw_bytes UInt64,
    raw_truncated UInt8,
    raw String,
    -- ALIAS, as windows.window_time and for the same reason (18.16's views).
    received_time DateTime('UTC') ALIAS toDateTime(intDiv(received_ms, 1000), 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(toDateTime(intDiv(received_ms, 1000)))
ORDER BY dead_letter_key;

-- The dead letters' consumer, as windows_queue, in a group of its own so that neither topic's
-- rebalances stall the other.
CREATE TABLE IF NOT EXISTS meterd.dead_letters_queue
(
    dead_letter_key String,
    agent_id String,
    buffer_id String,
    dead_letter_id UInt64,
    received_ms UInt64,
    transport String,
    reason_code String,
    reason String,
    raw_bytes UInt64,
    raw_truncated UInt8,
    raw String
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = '{{BROKERS}}',
    kafka_topic_list = '{{DEAD_LETTER_TOPIC}}',
    kafka_group_name = '{{GROUP}}-dead-letters',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS meterd.dead_letters_consumer TO meterd.dead_letters
AS SELECT
    dead_letter_key,
    agent_id,
    buffer_id,
    dead_letter_id,
    received_ms,
    transport,
    reason_code,
    reason,
    raw_bytes,
    raw_truncated,
    raw
FROM meterd.dead_letters_queue;
