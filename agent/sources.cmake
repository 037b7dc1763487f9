# The agent's library sources: every .cc of its concept folders (each folder's README.md says
# what it holds). The daemon's own entry (main.cc, shutdown) and meterctl (ctl/) are executables
# of their own, in the top-level CMakeLists.txt.
file(GLOB METERD_AGENT_SOURCES CONFIGURE_DEPENDS
  agent/config/*.cc
  agent/decode/*.cc
  agent/meters/*.cc
  agent/ingest/*.cc
  agent/listeners/*.cc
  agent/admin/*.cc
  agent/logging/*.cc
)
