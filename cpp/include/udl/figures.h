// Per-epoch figures declared once. Every model's epoch record lists its figures in one
// table, a static `figures()` returning (name, member) pairs; the loop adds the figures every
// record shares (EpochFigures). The checkpoint's history rows, the bindings and so Python's
// records, history tables and history.csv columns are all made from these tables, so a new
// figure is a member, a table entry and the code that computes it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace udl {

template <typename Owner, typename T>
struct Figure {
  const char* name;
  T Owner::*member;
};

template <typename Owner, typename T>
constexpr Figure<Owner, T> figure(const char* name, T Owner::*member) {
  return {name, member};
}

// What every epoch record holds, whatever the model.
struct EpochFigures {
  int64_t epoch = 0;  // 1-based
  double seconds = 0.0;
  bool improved = false;  // a new best of the monitored (validation) loss
};

// Every figure of `Record`: the epoch, its own table, then the time and the improvement.
template <typename Record>
constexpr auto all_figures() {
  return std::tuple_cat(std::make_tuple(figure("epoch", &EpochFigures::epoch)), Record::figures(),
                        std::make_tuple(figure("seconds", &EpochFigures::seconds),
                                        figure("improved", &EpochFigures::improved)));
}

// Calls fn(name, value) for every figure of `record`, in table order (value is a reference
// to the member, const or not as `record` is).
template <typename Record, typename Fn>
void for_each_figure(Record& record, Fn&& fn) {
  std::apply([&](const auto&... f) { (fn(f.name, record.*(f.member)), ...); },
             all_figures<std::remove_const_t<Record>>());
}

// Calls fn(name, member) for every figure of `Record` (for the bindings).
template <typename Record, typename Fn>
void for_each_figure_member(Fn&& fn) {
  std::apply([&](const auto&... f) { (fn(f.name, f.member), ...); }, all_figures<Record>());
}

namespace detail {

inline void append_cells(std::vector<double>& row, double v) { row.push_back(v); }
inline void append_cells(std::vector<double>& row, int64_t v) {
  row.push_back(static_cast<double>(v));
}
inline void append_cells(std::vector<double>& row, bool v) { row.push_back(v ? 1.0 : 0.0); }
template <size_t N>
void append_cells(std::vector<double>& row, const std::array<double, N>& v) {
  row.insert(row.end(), v.begin(), v.end());
}

inline void read_cells(const double*& cell, double& v) { v = *cell++; }
inline void read_cells(const double*& cell, int64_t& v) { v = static_cast<int64_t>(*cell++); }
inline void read_cells(const double*& cell, bool& v) { v = *cell++ != 0.0; }
template <size_t N>
void read_cells(const double*& cell, std::array<double, N>& v) {
  for (double& x : v) x = *cell++;
}

}  // namespace detail

// A record as a row of numbers (for a checkpoint's history) and back.
template <typename Record>
std::vector<double> to_row(const Record& record) {
  std::vector<double> row;
  for_each_figure(record,
                  [&](const char*, const auto& value) { detail::append_cells(row, value); });
  return row;
}

template <typename Record>
Record from_row(const std::vector<double>& row) {
  Record record;
  if (row.size() != to_row(record).size()) {
    throw std::runtime_error("a history row has " + std::to_string(row.size()) +
                             " cells, this record " + std::to_string(to_row(record).size()));
  }
  const double* cell = row.data();
  for_each_figure(record, [&](const char*, auto& value) { detail::read_cells(cell, value); });
  return record;
}

}  // namespace udl
