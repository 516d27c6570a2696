// A setting that takes one name of a fixed set, held as an enum: each enum declares its
// names once, in a table of Choices, and parsing, naming and the error for an unknown name
// come from that table.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "udl/errors.h"

namespace udl {

template <typename Enum>
struct Choice {
  Enum value;
  const char* name;
};

// The value named `name`; InvalidArgument "unknown <what> 'x' (expected 'a', 'b' or 'c')"
// otherwise.
template <typename Enum, size_t N>
Enum parse_choice(const std::array<Choice<Enum>, N>& choices, const std::string& name,
                  const char* what) {
  for (const auto& choice : choices) {
    if (name == choice.name) return choice.value;
  }
  std::string expected;
  for (size_t i = 0; i < N; ++i) {
    expected += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + "'" + choices[i].name + "'";
  }
  throw InvalidArgument("unknown " + std::string(what) + " '" + name + "' (expected " + expected +
                        ")");
}

template <typename Enum, size_t N>
const char* choice_name(const std::array<Choice<Enum>, N>& choices, Enum value) {
  for (const auto& choice : choices) {
    if (choice.value == value) return choice.name;
  }
  return "?";
}

}  // namespace udl
