// Encoding and decoding of series identities (see series_identity.h for the layout).
#include "buffer/identity/series_identity.h"

#include <xxhash.h>

#include <cstring>

namespace meterd {
namespace {

bool read_u32(std::string_view* in, uint32_t* value) {
  if (in->size() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in->data());
  *value = uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  in->remove_prefix(4);
  return true;
}

bool read_field(std::string_view* in, std::string* field) {
  uint32_t size = 0;
  if (!read_u32(in, &size) || in->size() < size) return false;
  field->assign(in->data(), size);
  in->remove_prefix(size);
  return true;
}

}  // namespace

uint64_t series_identity_hash(std::string_view identity) {
  return XXH3_64bits(identity.data(), identity.size());
}

std::string encode_series(const SeriesParts& parts) {
  std::string out;
  append_field(&out, parts.meter);
  append_field(&out, parts.subject);
  for (const auto& [name, value] : parts.groups) {
    append_field(&out, name);
    append_field(&out, value);
  }
  return out;
}

bool decode_series(std::string_view encoded, SeriesParts* parts) {
  if (!read_field(&encoded, &parts->meter) || !read_field(&encoded, &parts->subject)) return false;
  // Reuses the strings `parts` already holds: the uplink decodes every outbox row into the
  // same few objects.
  size_t groups = 0;
  while (!encoded.empty()) {
    if (groups == parts->groups.size()) parts->groups.emplace_back();
    auto& [name, value] = parts->groups[groups++];
    if (!read_field(&encoded, &name) || !read_field(&encoded, &value)) return false;
  }
  parts->groups.resize(groups);
  return true;
}

}  // namespace meterd
