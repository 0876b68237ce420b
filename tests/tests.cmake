# Unit tests (cmocka), one per module, and the end-to-end tests of the real daemon.
if(NOT CMOCKA_FOUND)
  message(FATAL_ERROR "cmocka is required for the tests (Debian: libcmocka-dev)")
endif()

foreach(module timefmt wire event config kinds schedule directory dircache store obligations period sketch metrics kpi auth retention)
  add_executable(test-${module} tests/test-${module}.c)
  target_link_libraries(test-${module} PRIVATE carehubd_core PkgConfig::CMOCKA)
  add_test(NAME unit-${module} COMMAND test-${module})
  set_tests_properties(unit-${module} PROPERTIES TIMEOUT 60
    ENVIRONMENT "CAREHUB_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# carehub-notify's and the calendar's modules.
foreach(module template calendar notify_config notify_templates notify_state notify_compose)
  add_executable(test-${module} tests/test-${module}.c)
  target_link_libraries(test-${module} PRIVATE carehub_notify_core PkgConfig::CMOCKA)
  add_test(NAME unit-${module} COMMAND test-${module})
  set_tests_properties(unit-${module} PROPERTIES TIMEOUT 60
    ENVIRONMENT "CAREHUB_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

# A test tool: sends one message with the mail module (tests/e2e/test_mail.py).
add_executable(mail-send tests/mail-send.c)
target_link_libraries(mail-send PRIVATE carehub_notify_core)

add_test(NAME format COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-format.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(format PROPERTIES TIMEOUT 60)

include(tests/e2e/e2e.cmake)
