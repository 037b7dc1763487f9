# The uplink's sources (see uplink/README.md).
file(GLOB METERD_UPLINK_SOURCES CONFIGURE_DEPENDS uplink/*.cc)
