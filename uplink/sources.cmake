set(METERD_UPLINK_SOURCES
  uplink/kafka_forwarder.cc
  uplink/record_encoder.cc
)
