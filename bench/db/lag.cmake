# Capture throughput and end-to-end lag benchmark tools (bench/db/lag.sh), included from
# bench/CMakeLists.txt. See bench/README.md.
add_executable(load_gen ${CMAKE_CURRENT_LIST_DIR}/load_gen.cc)
target_link_libraries(load_gen PRIVATE docshift_synth mongo::mongoc_shared gflags)

add_executable(oplog_tail ${CMAKE_CURRENT_LIST_DIR}/oplog_tail.cc)
target_link_libraries(oplog_tail PRIVATE docshift_synth mongo::mongoc_shared gflags)

if(DOCSHIFT_BUILD_TESTS)
  # Runs lag.sh --quick on the test bed and checks it printed its figures (never timing).
  # Exit 77 (skipped) without the test bed's environment.
  add_test(NAME bench.lag_quick
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lag_quick_test.sh ${CMAKE_BINARY_DIR})
  # RUN_SERIAL: it floods the FerretDB oplog source; a test tailing that oplog beside it
  # (FerretOplog.TailableAwaitDataCursorSeesInsertUpdateDeleteShapes) read nothing of its
  # own in 30 s once (CI, 2026-12-07), and its timings are not worth much under others.
  set_tests_properties(bench.lag_quick PROPERTIES LABELS testbed SKIP_RETURN_CODE 77 TIMEOUT 600 RUN_SERIAL TRUE)
endif()

add_executable(cs_tail ${CMAKE_CURRENT_LIST_DIR}/cs_tail.cc)
target_link_libraries(cs_tail PRIVATE docshift_synth mongo::mongoc_shared gflags)
