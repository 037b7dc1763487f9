// Environment references in config values (env_interpolation.h has the rules).
//
// The references are replaced in the parsed tree rather than in the file's text, so keys and
// comments stay literal, every error keeps the line and key of the value it is in, and a
// variable's value can never change the YAML's structure. A value reached twice through a YAML
// alias is replaced once: its `$$` must not become a reference on the second visit.
#include "agent/config/env_interpolation.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include <fmt/format.h>

namespace meterd {
namespace {

bool is_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_';
    if (!ok) return false;
  }
  return true;
}

// One reference's body, the text between `${` and `}`: appends what it stands for.
bool substitute(std::string_view body, const EnvLookup& env, std::string* out, std::string* why) {
  size_t marker = body.find(":-");
  std::string_view name = body.substr(0, marker);
  if (body.empty()) {
    *why = "empty reference '${}': write ${NAME} or ${NAME:-default} (and $$ for a literal $)";
    return false;
  }
  if (!is_name(name)) {
    *why = fmt::format("malformed reference '${{{}}}': a variable name is letters, digits and "
                       "'_', not starting with a digit; a default is written ${{NAME:-default}}",
                       body);
    return false;
  }
  std::optional<std::string> value = env(std::string(name));
  if (marker != std::string_view::npos && (!value || value->empty())) {
    out->append(body.substr(marker + 2));  // unset or empty: the default, as bash's :-
    return true;
  }
  if (!value) {
    *why = fmt::format("environment variable {} is not set (or give a default: ${{{}:-VALUE}})",
                       name, name);
    return false;
  }
  out->append(*value);
  return true;
}

struct TreeWalk {
  const EnvLookup& env;
  std::vector<EnvProblem>* problems;
  std::vector<YAML::Node> replaced;  // scalars already replaced, in case an alias repeats them

  static std::string join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  void scalar(YAML::Node node, const std::string& key) {
    const std::string& text = node.Scalar();
    if (text.find('$') == std::string::npos) return;
    for (const YAML::Node& seen : replaced) {
      if (seen.is(node)) return;
    }
    std::string value, why;
    if (!interpolate_env(text, env, &value, &why)) {
      problems->push_back({key, node.Mark().line >= 0 ? node.Mark().line + 1 : 0, why});
      return;
    }
    replaced.push_back(node);
    if (value != text) node = value;  // the node's mark (its line) stays
  }

  void walk(YAML::Node node, const std::string& key) {
    if (node.IsScalar()) {
      scalar(node, key);
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) walk(node[i], fmt::format("{}[{}]", key, i));
    } else if (node.IsMap()) {
      for (auto entry : node) {
        std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
        walk(entry.second, join(key, name));
      }
    }
  }
};

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

bool interpolate_env(std::string_view text, const EnvLookup& env, std::string* out,
                     std::string* why) {
  out->clear();
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos || dollar + 1 == text.size()) {
      out->append(text.substr(i));
      break;
    }
    out->append(text.substr(i, dollar - i));
    char next = text[dollar + 1];
    if (next != '{') {  // `$$` is one `$`; a `$` before anything else is itself
      out->push_back('$');
      i = dollar + (next == '$' ? 2 : 1);
      continue;
    }
    size_t close = text.find('}', dollar + 2);
    if (close == std::string_view::npos) {
      *why = fmt::format("unterminated reference '{}': missing '}}' (write $$ for a literal $)",
                         text.substr(dollar));
      return false;
    }
    if (!substitute(text.substr(dollar + 2, close - dollar - 2), env, out, why)) return false;
    i = close + 1;
  }
  return true;
}

void interpolate_env_in_tree(YAML::Node root, const EnvLookup& env,
                             std::vector<EnvProblem>* problems) {
  TreeWalk walk{env, problems, {}};
  walk.walk(root, "");
}

}  // namespace meterd
