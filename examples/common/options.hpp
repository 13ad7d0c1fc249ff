#pragma once
// The examples' --opt KEY=VALUE arguments, gathered for
// descent::make_optimizer; not part of the library.

#include <map>
#include <string>

namespace example {

/// Adds one --opt argument, "KEY=VALUE", to options. Returns what is wrong
/// with it (no '=', or a key given before), or "" if it was added.
inline std::string add_option(std::map<std::string, std::string>& options,
                              const std::string& pair) {
  const std::size_t eq = pair.find('=');
  if (eq == std::string::npos) return "--opt " + pair + ": expected KEY=VALUE";
  if (!options.emplace(pair.substr(0, eq), pair.substr(eq + 1)).second) {
    return "--opt " + pair.substr(0, eq) + " is given twice";
  }
  return "";
}

}  // namespace example
