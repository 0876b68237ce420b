# End-to-end tests: each Python file in tests/e2e runs the real carehubd and
# the real client tools (see tests/e2e/harness.py).  They use Debian's
# /usr/bin/python3, which has python3-zmq; paths come from the environment.

set(CAREHUB_E2E_DIR ${CMAKE_CURRENT_LIST_DIR})
set(CAREHUB_E2E_ENV
    CAREHUB_BIN_DIR=${CMAKE_BINARY_DIR}
    CAREHUB_SOURCE_DIR=${CMAKE_SOURCE_DIR}
    PYTHONDONTWRITEBYTECODE=1
    PYTHONUNBUFFERED=1)

# name, timeout in seconds, processors it keeps busy
function(carehub_e2e_test name timeout processors)
  add_test(NAME e2e_${name}
           COMMAND /usr/bin/python3 ${CAREHUB_E2E_DIR}/test_${name}.py
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(e2e_${name} PROPERTIES
                       ENVIRONMENT "${CAREHUB_E2E_ENV}"
                       TIMEOUT ${timeout}
                       PROCESSORS ${processors}
                       LABELS e2e)
endfunction()

carehub_e2e_test(config 120 1)
carehub_e2e_test(bad_input 180 1)
carehub_e2e_test(clients 240 2)
carehub_e2e_test(ctl_reviews 240 1)
carehub_e2e_test(lifecycle 240 2)
carehub_e2e_test(pipelining 300 2)
carehub_e2e_test(durability 300 2)
carehub_e2e_test(year 300 1)
carehub_e2e_test(dst 120 1)
carehub_e2e_test(kill_month 400 2)
carehub_e2e_test(reviews_bad_input 180 1)
carehub_e2e_test(kpi_quarter 300 1)
carehub_e2e_test(kpi_bad_input 180 1)
carehub_e2e_test(kpi_durability 300 2)
carehub_e2e_test(calendar 120 1)
carehub_e2e_test(mail 120 1)
carehub_e2e_test(notify_fortnight 240 1)
carehub_e2e_test(notify_kill 240 1)
carehub_e2e_test(notify_faults 240 1)
carehub_e2e_test(notify_tls 120 1)
carehub_e2e_test(notify_rounds 180 1)
carehub_e2e_test(manpages 120 1)
carehub_e2e_test(package 600 2)
carehub_e2e_test(units 120 1)
carehub_e2e_test(backup 240 2)
carehub_e2e_test(reload 180 1)
carehub_e2e_test(retention 240 1)
carehub_e2e_test(security 300 2)
