# The buffer's sources: every .cc of its concept folders (see buffer/README.md).
file(GLOB METERD_BUFFER_SOURCES CONFIGURE_DEPENDS
  buffer/base/*.cc
  buffer/windows/*.cc
  buffer/identity/*.cc
  buffer/sqlite/*.cc
  buffer/store/*.cc
)
