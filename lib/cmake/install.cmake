# What `cmake --install` puts under the prefix: the header, the shared library
# (libblasconv.so.0 -> libblasconv.so.0.1.0), the static library, the tools, a CMake
# package (find_package(blasconv CONFIG)) and a pkg-config file (blasconv.pc).
include(CMakePackageConfigHelpers)

set(BLASCONV_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/blasconv)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS blasconv blasconv_static EXPORT blasconv-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Every executable tools/CMakeLists.txt defines is a tool to install, whoever adds it:
# no list to keep in sync. Installed tools find the library next to them first.
if(BLASCONV_BUILD_TOOLS)
  get_property(blasconv_tool_targets DIRECTORY ${PROJECT_SOURCE_DIR}/tools
               PROPERTY BUILDSYSTEM_TARGETS)
  file(RELATIVE_PATH blasconv_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR}
       ${CMAKE_INSTALL_FULL_LIBDIR})
  foreach(tool ${blasconv_tool_targets})
    get_target_property(tool_type ${tool} TYPE)
    if(tool_type STREQUAL "EXECUTABLE")
      set_target_properties(${tool} PROPERTIES INSTALL_RPATH "$ORIGIN/${blasconv_bin_to_lib}")
      install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    endif()
  endforeach()
endif()

# The CMake package: blasconv::blasconv (shared) and blasconv::blasconv_static, whose
# link interface needs the same BLAS (BLA_VENDOR) and Threads found again.
install(EXPORT blasconv-targets NAMESPACE blasconv:: FILE blasconv-targets.cmake
        DESTINATION ${BLASCONV_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/blasconv-config.cmake.in
                              ${PROJECT_BINARY_DIR}/blasconv-config.cmake
                              INSTALL_DESTINATION ${BLASCONV_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/blasconv-config-version.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/blasconv-config.cmake
              ${PROJECT_BINARY_DIR}/blasconv-config-version.cmake
        DESTINATION ${BLASCONV_CMAKE_DIR})

# pkg-config: relocatable (paths from ${pcfiledir}, so `cmake --install --prefix`
# anywhere works). A static link needs the exact BLAS this build linked, as -L/-l,
# plus pthread, dl and m. (Not Requires.private: openblas.pc's own Libs.private asks
# for -lgfortran, whose development files libopenblas-dev does not pull in.)
set(blasconv_pc_libs_private "")
foreach(lib ${BLAS_LIBRARIES} ${CMAKE_THREAD_LIBS_INIT} ${CMAKE_DL_LIBS} m)
  if(IS_ABSOLUTE "${lib}" AND lib MATCHES "/lib([^/]+)\\.(so|a)(\\.[0-9.]+)?$")
    get_filename_component(lib_dir "${lib}" DIRECTORY)
    string(APPEND blasconv_pc_libs_private " -L${lib_dir} -l${CMAKE_MATCH_1}")
  elseif(lib MATCHES "^-")
    string(APPEND blasconv_pc_libs_private " ${lib}")
  elseif(lib)
    string(APPEND blasconv_pc_libs_private " -l${lib}")
  endif()
endforeach()
if(NOT CMAKE_THREAD_LIBS_INIT)
  string(APPEND blasconv_pc_libs_private " -lpthread")
endif()
string(STRIP "${blasconv_pc_libs_private}" blasconv_pc_libs_private)
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(blasconv_pc_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(blasconv_pc_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
file(RELATIVE_PATH blasconv_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" blasconv_pc_to_prefix "${blasconv_pc_to_prefix}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/blasconv.pc.in ${PROJECT_BINARY_DIR}/blasconv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/blasconv.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
