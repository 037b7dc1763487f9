// Computes idempotency keys with xxHash's XXH3-128 (see idempotency_key.h for the input layout).
#include "buffer/idempotency_key.h"

#include <xxhash.h>

#include "buffer/series_identity.h"

namespace meterd {

std::string idempotency_key(std::string_view agent_id, std::string_view series_identity,
                            int64_t window_start, int64_t revision) {
  std::string input;
  input.reserve(agent_id.size() + series_identity.size() + 20);
  append_field(&input, agent_id);
  input.append(series_identity);
  append_i64(&input, window_start);
  append_i64(&input, revision);

  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(input.data(), input.size()));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key(32, '0');
  for (int i = 0; i < 16; ++i) {
    key[2 * i] = kHex[canonical.digest[i] >> 4];
    key[2 * i + 1] = kHex[canonical.digest[i] & 0xf];
  }
  return key;
}

}  // namespace meterd
