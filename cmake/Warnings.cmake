# gw_set_warnings(target): high warning level, -Werror on our own targets only.
function(gw_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    $<$<BOOL:${GW_WERROR}>:-Werror>
    $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>
    # g++ 12 false positive on Asio coroutine frames (their recycling operator new/delete
    # pair is matched, but the analysis loses track across the frame's destroy path).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>
    $<$<CXX_COMPILER_ID:Clang>:-Wno-unused-command-line-argument>)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # clang 14 does not switch on Asio 1.18's coroutine support by itself.
    target_compile_definitions(${target} PRIVATE BOOST_ASIO_HAS_CO_AWAIT=1 BOOST_ASIO_HAS_STD_COROUTINE=1)
  endif()
endfunction()

# gw_add_test(name sources... LIBS libs...): a GoogleTest binary registered with CTest.
function(gw_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  gw_set_warnings(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()
