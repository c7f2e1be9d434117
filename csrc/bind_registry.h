// Each kernel family registers its pybind11 definitions from its own csrc/<family>/bind_<family>.cpp:
//
//   PYWLC_REGISTER_BINDINGS(dwt) { m.def(...); }
//
// bindings.cpp runs every registered binder when pywlc._C is imported, so adding a family touches no
// shared file (CMakeLists.txt picks the sources up by glob).
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <vector>

namespace pywlc {

using Binder = void (*)(pybind11::module_&);

inline std::vector<Binder>& binders() {
  static std::vector<Binder> list;  // function-local: safe against static initialisation order
  return list;
}

struct BinderRegistration {
  explicit BinderRegistration(Binder b) { binders().push_back(b); }
};

}  // namespace pywlc

#define PYWLC_REGISTER_BINDINGS(name)                                                   \
  static void pywlc_bind_##name(pybind11::module_& m);                                 \
  static const ::pywlc::BinderRegistration pywlc_binder_##name{&pywlc_bind_##name};    \
  static void pywlc_bind_##name(pybind11::module_& m)
