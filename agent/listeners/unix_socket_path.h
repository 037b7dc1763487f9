// Filesystem chores shared by the Unix socket listeners: the parent folder is created, a stale
// socket file from an earlier run is replaced (anything else at the path is refused, never
// deleted), and the socket gets its configured file mode and group.
#pragma once

#include <sys/types.h>

#include <string>

#include "buffer/base/status.h"

namespace meterd {

Status prepare_socket_path(const std::string& path);
// `group` empty: keep the process's group.
Status apply_socket_permissions(const std::string& path, mode_t mode, const std::string& group);

}  // namespace meterd
