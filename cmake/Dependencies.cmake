# Every third-party dependency comes from a Debian package (scripts/setup installs them);
# nothing is downloaded at build time.
find_package(Threads REQUIRED)
find_package(mujoco REQUIRED)          # libmujoco-dev (needs libqhull-dev for its include path)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(cppzmq REQUIRED)          # cppzmq-dev + libzmq3-dev
find_package(tomlplusplus REQUIRED)    # libtomlplusplus-dev: a compiled library in Debian
find_package(SQLite3 REQUIRED)         # libsqlite3-dev
find_package(CLI11 REQUIRED)           # libcli11-dev
if(METAJOULE_BUILD_TESTS)
  find_package(doctest REQUIRED)       # doctest-dev
endif()
