# Writes OUT, a header defining NER_GIT_VERSION: VERSION when given (-DNER_VERSION=..., e.g. a
# Docker build without .git), else `git describe --always --dirty` of SRC, else "unknown". Run
# at every build (not at configure time, which once stamped checkpoints with a commit several
# behind the code that trained them); the file is rewritten only when the version changes, so
# only then does version.cc recompile and the binaries relink.
if(VERSION)
  set(version "${VERSION}")
else()
  execute_process(COMMAND git describe --always --dirty
                  WORKING_DIRECTORY "${SRC}"
                  OUTPUT_VARIABLE version OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT version)
  set(version "unknown")
endif()
set(content "#define NER_GIT_VERSION \"${version}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
