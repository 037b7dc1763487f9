// Computes idempotency keys with xxHash's XXH3-128 (see idempotency_key.h for the input layout).
#include "buffer/identity/idempotency_key.h"

#include <sys/random.h>
#include <xxhash.h>

#include <cerrno>
#include <stdexcept>

#include "buffer/identity/series_identity.h"

namespace meterd {
namespace {

std::string hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string idempotency_key(std::string_view buffer_id, std::string_view series_identity,
                            int64_t window_start, int64_t window_size_s, int64_t revision) {
  std::string input;
  input.reserve(buffer_id.size() + series_identity.size() + 28);
  append_field(&input, buffer_id);
  input.append(series_identity);
  append_i64(&input, window_start);
  append_i64(&input, window_size_s);
  append_i64(&input, revision);

  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(input.data(), input.size()));
  return hex(canonical.digest, sizeof(canonical.digest));
}

std::string new_buffer_id() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0 && errno == EINTR) continue;
    // getrandom cannot fail on Linux 3.17+ once the pool is initialised (it blocks until then);
    // a failure here means no kernel randomness at all, and a guessable id could collide.
    if (n < 0) throw std::runtime_error("getrandom failed: no randomness for the buffer id");
    got += static_cast<size_t>(n);
  }
  return hex(bytes, sizeof(bytes));
}

}  // namespace meterd
