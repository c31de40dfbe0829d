# Shared compile options, linked PRIVATE by every target.
add_library(metajoule_warnings INTERFACE)
target_compile_options(metajoule_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(METAJOULE_WERROR)
  target_compile_options(metajoule_warnings INTERFACE -Werror)
endif()
if(METAJOULE_NATIVE)
  target_compile_options(metajoule_warnings INTERFACE -march=native)
endif()
if(METAJOULE_SANITIZE)
  # under sanitizer instrumentation GCC 12's flow analysis reports false "may be used
  # uninitialized" warnings inside libstdc++ (std::function in std::regex), so that one warning
  # is not an error in sanitizer builds; the Release build keeps it
  target_compile_options(metajoule_warnings INTERFACE
    -fsanitize=${METAJOULE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all
    -Wno-maybe-uninitialized)
  target_link_options(metajoule_warnings INTERFACE -fsanitize=${METAJOULE_SANITIZE})
endif()

# metajoule_module(<name> SOURCES ... DEPS ...): one library per top-level folder,
# aliased metajoule::<name>, include root = repository root.
function(metajoule_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_SOURCES)
    add_library(metajoule_${name} STATIC ${ARG_SOURCES})
    target_include_directories(metajoule_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
    target_compile_features(metajoule_${name} PUBLIC cxx_std_20)
    target_link_libraries(metajoule_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} metajoule_warnings)
  else()
    # a module that has no compiled sources yet (headers only)
    add_library(metajoule_${name} INTERFACE)
    target_include_directories(metajoule_${name} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
    target_link_libraries(metajoule_${name} INTERFACE ${ARG_PUBLIC_DEPS} ${ARG_PRIVATE_DEPS})
  endif()
  add_library(metajoule::${name} ALIAS metajoule_${name})
endfunction()
