# Unit tests (cmocka), one per module, and the end-to-end tests of the real daemon.
if(NOT CMOCKA_FOUND)
  message(FATAL_ERROR "cmocka is required for the tests (Debian: libcmocka-dev)")
endif()

foreach(module timefmt wire event config kinds schedule directory dircache store obligations period sketch metrics kpi)
  add_executable(test-${module} tests/test-${module}.c)
  target_link_libraries(test-${module} PRIVATE carehubd_core PkgConfig::CMOCKA)
  add_test(NAME unit-${module} COMMAND test-${module})
  set_tests_properties(unit-${module} PROPERTIES TIMEOUT 60
    ENVIRONMENT "CAREHUB_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

add_test(NAME format COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-format.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(format PROPERTIES TIMEOUT 60)

include(tests/e2e/e2e.cmake)
