# Style check: `cmake --build build --target format-check` fails when a C file under
# include/, lib/, tests/ or tools/ differs from what .clang-format asks for (the test
# suite runs it as the `format` test); `--target format` rewrites them in place.
# Defined only when clang-format is found (the quickstart installs it).
find_program(BLASCONV_CLANG_FORMAT NAMES clang-format clang-format-16 clang-format-15
                                         clang-format-14)
if(BLASCONV_CLANG_FORMAT)
  file(GLOB_RECURSE blasconv_format_sources CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/include/*.h ${PROJECT_SOURCE_DIR}/lib/*.[ch]
       ${PROJECT_SOURCE_DIR}/tests/*.[ch] ${PROJECT_SOURCE_DIR}/tools/*.[ch])
  add_custom_target(format-check
                    COMMAND ${BLASCONV_CLANG_FORMAT} --dry-run --Werror ${blasconv_format_sources}
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} VERBATIM
                    COMMENT "Checking C sources against .clang-format")
  add_custom_target(format
                    COMMAND ${BLASCONV_CLANG_FORMAT} -i ${blasconv_format_sources}
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} VERBATIM
                    COMMENT "Formatting C sources with .clang-format")
  if(BLASCONV_BUILD_TESTS)
    add_test(NAME format COMMAND ${BLASCONV_CLANG_FORMAT} --dry-run --Werror
                                 ${blasconv_format_sources}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  endif()
endif()
