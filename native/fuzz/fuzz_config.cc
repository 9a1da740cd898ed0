// libFuzzer target: ConfigFile's checksum-envelope validation on arbitrary
// bytes. What it accepts must re-wrap to exactly the same bytes (pair
// assertion), so a damaged or torn file can never pass as valid.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../core/config_file.h"

using namespace commitlog;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  std::string reason;
  if (UnwrapChecked(p, size, &reason)) {
    std::string again = WrapChecked(p + kEnvelopeHeaderSize, size - kEnvelopeHeaderSize);
    if (again != std::string(p, size)) abort();
  } else if (reason.empty()) {
    abort();
  }
  // Everything wraps into something that unwraps.
  std::string w = WrapChecked(p, size);
  if (!UnwrapChecked(w.data(), w.size(), &reason)) abort();
  return 0;
}
