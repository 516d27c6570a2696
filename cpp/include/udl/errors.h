// Exceptions the core throws for bad input; the Python layer maps each to its own class.
#pragma once

#include <stdexcept>
#include <string>

namespace udl {

// An argument outside its documented range (a size <= 0, an unknown name, ...).
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A file or buffer whose content is not what its format promises (IDX, model files).
class DataFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An architecture whose layer shapes do not work for the given input.
class InvalidArchitecture : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace udl
