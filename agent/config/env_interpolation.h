// Environment references in the config's values: `${VAR}`, `${VAR:-default}` and `$$`, the
// convention of Vector and Fluent Bit, so one file serves every host and container and secrets or
// addresses come from the environment (systemd's Environment=, a container's env).
//
// The references are replaced in every scalar value of the parsed YAML, before any value is
// interpreted (so `port: ${PORT}` or `max_size: ${SIZE:-1GiB}` are checked like literal text);
// mapping keys stay literal, and comments are never read. The rules, as the README states them:
// - `${VAR}`: the variable's value; unset is an error naming it; set but empty gives "".
// - `${VAR:-default}`: the default when VAR is unset OR empty (as bash does); the default is
//   taken as written, up to the first `}` (no nested references).
// - `$$`: one literal `$`. Any other `$` is literal too (JSONPaths such as `$.tokens` need no
//   escape); only `${` starts a reference.
// - A name is [A-Za-z_][A-Za-z0-9_]*; `${`, `${}`, an unterminated or otherwise malformed
//   reference is an error.
// The replaced text is not parsed as YAML again: a variable cannot add keys or lists.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

namespace meterd {

// Looks up one environment variable: nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process's environment (getenv).
EnvLookup process_env();

// Replaces the references in `text`. False on the first problem, with `why` saying which
// (an unset variable's message names it).
bool interpolate_env(std::string_view text, const EnvLookup& env, std::string* out,
                     std::string* why);

// One value that could not be interpolated: its key path (as config errors name keys, such as
// `kafka.brokers` or `meters[0].slug`), its 1-based line (0 if unknown) and the reason.
struct EnvProblem {
  std::string key;
  int line = 0;
  std::string reason;
};

// Replaces the references in every scalar value under `root`, in place. A value with a problem
// is left as written, and the problem is appended to `problems`.
void interpolate_env_in_tree(YAML::Node root, const EnvLookup& env,
                             std::vector<EnvProblem>* problems);

}  // namespace meterd
