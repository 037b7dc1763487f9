// Socket path preparation and permissions (see unix_socket_path.h).
#include "agent/listeners/unix_socket_path.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace meterd {

Status prepare_socket_path(const std::string& path) {
  std::filesystem::path socket_path(path);
  std::error_code ec;
  if (socket_path.has_parent_path()) {
    std::filesystem::create_directories(socket_path.parent_path(), ec);
    if (ec) {
      return Status::error(fmt::format("creating {}: {}", socket_path.parent_path().string(),
                                       ec.message()));
    }
  }
  struct stat info;
  if (lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return Status::error(fmt::format("{} exists and is not a socket; refusing to replace it",
                                       path));
    }
    if (unlink(path.c_str()) != 0) {
      return Status::error(fmt::format("removing stale socket {}: {}", path, strerror(errno)));
    }
  }
  return Status::ok();
}

Status apply_socket_permissions(const std::string& path, mode_t mode, const std::string& group) {
  if (!group.empty()) {
    struct group* entry = getgrnam(group.c_str());
    if (!entry) return Status::error(fmt::format("unknown group '{}' for {}", group, path));
    if (chown(path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
      return Status::error(fmt::format("chown {} to group {}: {}", path, group, strerror(errno)));
    }
  }
  if (chmod(path.c_str(), mode) != 0) {
    return Status::error(fmt::format("chmod {}: {}", path, strerror(errno)));
  }
  return Status::ok();
}

}  // namespace meterd
